//! The sandbox's data plane for RDS: databases that answer SQL with the data their recovery
//! point held.
//!
//! One PostgreSQL server ([`postgres`]) holds, as databases: each seeded production instance's
//! or cluster's data (`prod-instance/ID`, `prod-cluster/ID`), each of its seeded snapshots as it
//! was at the snapshot's time (`instance-snapshot/ID`, `cluster-snapshot/ID`: the rows whose
//! timestamp is later are deleted), and each restored instance or cluster (`instance/ID`,
//! `cluster/ID`), copied from its recovery point as a template. A snapshot a drill takes or
//! copies holds what its source was restored from (not what the drill wrote since). Every restored instance gets
//! its own endpoint ([`wire`], with TLS by the sandbox's authority) on a free loopback port, which the realism layer writes into the
//! instance's described `Endpoint`; it reaches that instance's database and nothing else's.
//!
//! Rules: the server starts with the first seed that gives data; without PostgreSQL the control
//! plane works as before and every restored instance's endpoint answers with the reason. A
//! restore's database exists before the restore call is answered. Deleting an instance drops
//! its database. Roles are the seed's master users, shared by every copy of their data.
//!
//! It knows nothing of HTTP or of moto: the realism layer tells it what happened.

pub mod postgres;
pub mod wire;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use postgres::Server;
use wire::{Endpoint, Route};

/// The data a seed gives one production instance or cluster, as the seed sends it to the
/// sandbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedData {
    /// The production instance (or cluster).
    pub instance: String,
    /// Whether it is an Aurora cluster (its snapshots are cluster snapshots).
    #[serde(default)]
    pub cluster: bool,
    /// The region it is in: identifiers are kept apart by region (`REGION/ID`).
    #[serde(default)]
    pub region: String,
    /// Its master user.
    pub user: String,
    /// The master user's password.
    pub password: String,
    /// Tables to create, with generated rows.
    pub tables: Vec<Table>,
    /// SQL to run after the tables are made (the text of the seed's `sql` file).
    pub sql: Option<String>,
    /// The seed's "now" (RFC 3339): the newest generated row's time.
    pub now: String,
    /// Its snapshots: identifier and time (RFC 3339).
    pub snapshots: Vec<(String, String)>,
    /// Copies of its snapshots in other regions: identifier and region.
    #[serde(default)]
    pub copies: Vec<(String, String)>,
}

/// A table of seeded data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Columns to create (name, SQL type); none: the seed's SQL creates the table.
    pub columns: Vec<(String, String)>,
    /// The column that says when a row was written: what snapshots and point-in-time
    /// restores cut at.
    pub timestamp: Option<String>,
    /// Rows to generate: one every this many seconds, this many, the newest at the seed's now.
    pub rows: Option<(f64, u64)>,
}

/// What has an endpoint: a DB instance or an Aurora cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Of {
    /// A DB instance.
    Instance,
    /// An Aurora DB cluster.
    Cluster,
}

impl Of {
    fn word(self) -> &'static str {
        match self {
            Self::Instance => "instance",
            Self::Cluster => "cluster",
        }
    }

    fn snapshot_word(self) -> &'static str {
        match self {
            Self::Instance => "snapshot",
            Self::Cluster => "cluster snapshot",
        }
    }
}

/// Where a restored instance's or cluster's data comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A DB snapshot or cluster snapshot.
    Snapshot(String),
    /// An instance or cluster at a time (none: its latest restorable time).
    PointInTime {
        /// The source.
        source: String,
        /// The restore time.
        time: Option<DateTime<Utc>>,
    },
}

/// A recovery point's key: production instances and clusters, and their snapshots.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PointKey {
    of: Of,
    snapshot: bool,
    id: String,
}

/// A recovery point the data plane holds.
#[derive(Clone)]
struct Point {
    database: String,
    owner: String,
    /// (table, timestamp column) of the tables a point in time cuts.
    stamps: Vec<(String, String)>,
    /// The rows after this time are not in it (none: `database` holds just its rows).
    cut: Option<DateTime<Utc>>,
}

struct Served {
    port: u16,
    route: Route,
    /// None while the database is stopped.
    endpoint: Option<Endpoint>,
    /// Where its data came from: what a snapshot of it holds.
    from: Option<Point>,
}

#[derive(Default)]
struct State {
    points: HashMap<PointKey, Point>,
    served: HashMap<(Of, String), Served>,
    /// The master users seeded: user → (password, the instance that named it first).
    users: HashMap<String, (String, String)>,
}

/// `id` in `region`: how the data plane keys and names what it holds (none: as it is).
pub fn scoped(region: &str, id: &str) -> String {
    if region.is_empty() {
        id.to_owned()
    } else {
        format!("{region}/{id}")
    }
}

/// A scoped identifier as a person reads it: `` `id` in region ``.
fn named(scoped: &str) -> String {
    match scoped.split_once('/') {
        Some((region, id)) => format!("`{id}` in {region}"),
        None => format!("`{scoped}`"),
    }
}

/// The data plane of one sandbox.
pub struct DataPlane {
    programs: Result<PathBuf, String>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    cache: PathBuf,
    dir: PathBuf,
    server: tokio::sync::OnceCell<Result<Arc<Server>, String>>,
    state: Mutex<State>,
}

impl DataPlane {
    /// A data plane whose server (not started yet) runs `programs` with its data under `dir`,
    /// from a cluster made once under `cache`; `Err` says why there is none. Its endpoints
    /// speak TLS through `tls` to clients that ask.
    pub fn new(
        programs: Result<PathBuf, String>,
        tls: Option<tokio_rustls::TlsAcceptor>,
        cache: PathBuf,
        dir: PathBuf,
    ) -> Self {
        Self {
            programs,
            tls,
            cache,
            dir,
            server: tokio::sync::OnceCell::new(),
            state: Mutex::new(State::default()),
        }
    }

    /// Where PostgreSQL comes from, or why the data plane is off.
    pub fn programs(&self) -> Result<&Path, &str> {
        self.programs.as_deref().map_err(String::as_str)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn server(&self) -> Result<Arc<Server>, String> {
        let started = self
            .server
            .get_or_init(|| async {
                let programs = self.programs.clone()?;
                let dir = self.dir.join(format!("postgres-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                Server::start(&programs, &self.cache, dir)
                    .await
                    .map(Arc::new)
            })
            .await;
        started
            .clone()
            .map_err(|e| format!("the local sandbox's data plane is off: {e}"))
    }

    /// Stops the server, if it was started (its databases go with it).
    pub fn stop(&self) {
        if let Some(Ok(server)) = self.server.get() {
            server.stop();
        }
        self.state().served.clear();
    }

    /// The port of the endpoint of the instance or cluster `id`, when it has one.
    pub fn port(&self, of: Of, id: &str) -> Option<u16> {
        self.state()
            .served
            .get(&(of, id.to_owned()))
            .map(|s| s.port)
    }

    /// Creates a production instance's data and its snapshots' copies.
    pub async fn seed(&self, data: &SeedData) -> Result<(), String> {
        let server = self.server().await?;
        let now = time(&data.now)?;
        let fail = |what: &str, e: sqlx::Error| {
            format!(
                "seeding the data of `{}`: {what}: {}",
                data.instance,
                message(&e)
            )
        };
        self.claim_user(data)?;
        let mut admin = server
            .connect("postgres")
            .await
            .map_err(|e| fail("connect", e))?;
        let role = ident(&data.user);
        let exists: Option<i32> = sqlx::query_scalar("select 1 from pg_roles where rolname = $1")
            .bind(&data.user)
            .fetch_optional(&mut admin)
            .await
            .map_err(|e| fail("roles", e))?;
        let verb = if exists.is_some() { "ALTER" } else { "CREATE" };
        raw(&format!(
            "{verb} ROLE {role} LOGIN PASSWORD {}",
            literal(&data.password)
        ))
        .execute(&mut admin)
        .await
        .map_err(|e| fail("the master user", e))?;
        let of = if data.cluster {
            Of::Cluster
        } else {
            Of::Instance
        };
        let scope = |id: &str| scoped(&data.region, id);
        let prod = db_name(&format!("prod-{}", of.word()), &scope(&data.instance));
        let quoted = ident(&prod);
        for sql in [
            format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"),
            format!("CREATE DATABASE {quoted} OWNER {role}"),
            format!("REVOKE CONNECT ON DATABASE {quoted} FROM PUBLIC"),
        ] {
            raw(&sql)
                .execute(&mut admin)
                .await
                .map_err(|e| fail("its database", e))?;
        }
        fill(&server, &prod, data, now)
            .await
            .map_err(|(what, e)| fail(&what, e))?;
        let stamps: Vec<(String, String)> = data
            .tables
            .iter()
            .filter_map(|t| Some((t.name.clone(), t.timestamp.clone()?)))
            .collect();
        let point = |database: String| Point {
            database,
            owner: data.user.clone(),
            stamps: stamps.clone(),
            cut: None,
        };
        for (id, at) in &data.snapshots {
            let copy = db_name(&format!("{}-snapshot", of.word()), &scope(id));
            copy_database(
                &server,
                &mut admin,
                &prod,
                &copy,
                &data.user,
                Some(time(at)?),
                &stamps,
            )
            .await
            .map_err(|e| fail(&format!("snapshot `{id}`"), e))?;
            raw(&format!(
                "REVOKE CONNECT ON DATABASE {} FROM PUBLIC",
                ident(&copy)
            ))
            .execute(&mut admin)
            .await
            .map_err(|e| fail(&format!("snapshot `{id}`"), e))?;
            let key = PointKey {
                of,
                snapshot: true,
                id: scope(id),
            };
            self.state().points.insert(key, point(copy.clone()));
            for (_, region) in data.copies.iter().filter(|(c, _)| c == id) {
                let key = PointKey {
                    of,
                    snapshot: true,
                    id: scoped(region, id),
                };
                self.state().points.insert(key, point(copy.clone()));
            }
        }
        Server::close(admin).await;
        self.state().points.insert(
            PointKey {
                of,
                snapshot: false,
                id: scope(&data.instance),
            },
            point(prod),
        );
        Ok(())
    }

    /// Takes `data`'s master user for its instance: PostgreSQL's users are the server's, shared
    /// by every database, so a user named again must come with the same password.
    fn claim_user(&self, data: &SeedData) -> Result<(), String> {
        let user = &data.user;
        if user == postgres::SUPERUSER || user.starts_with("pg_") {
            return Err(format!(
                "the data of `{}` cannot have the master user `{user}`: it is the sandbox's own \
                 (`{}`) or PostgreSQL's (`pg_...`); give it another `user:`",
                data.instance,
                postgres::SUPERUSER
            ));
        }
        let mut state = self.state();
        match state.users.get(user) {
            Some((password, first)) if *password != data.password && *first != data.instance => {
                Err(format!(
                    "the data of `{}` names the master user `{user}`, which `{first}` has with \
                     another password: the sandbox's databases share their users, so give it \
                     another `user:` or the same password",
                    data.instance
                ))
            }
            _ => {
                state
                    .users
                    .entry(user.clone())
                    .or_insert_with(|| (data.password.clone(), data.instance.clone()));
                Ok(())
            }
        }
    }

    /// A restored instance or cluster: its database, copied from where it comes from, and its
    /// endpoint. A failure leaves an endpoint that says why.
    pub async fn restored(&self, of: Of, id: &str, from: &Source) {
        let (route, point) = match self.restore(of, id, from).await {
            Ok((route, point)) => (route, Some(point)),
            Err(reason) => (Route::Refuse(reason), None),
        };
        self.listen(of, id, route, point).await;
    }

    /// An instance created in cluster `cluster`: an endpoint of its own to the cluster's data,
    /// when the cluster has data.
    pub async fn member(&self, instance: &str, cluster: &str) {
        let found = self
            .state()
            .served
            .get(&(Of::Cluster, cluster.to_owned()))
            .map(|s| (s.route.clone(), s.from.clone()));
        if let Some((route, from)) = found {
            self.listen(Of::Instance, instance, route, from).await;
        }
    }

    /// A snapshot a drill took of instance or cluster `source`: it holds what `source` was
    /// restored from, cut at the same time (or a seeded production one's data as it is).
    pub fn snapshot_taken(&self, of: Of, source: &str, snapshot: &str) {
        let mut state = self.state();
        let point = state
            .served
            .get(&(of, source.to_owned()))
            .and_then(|s| s.from.clone())
            .or_else(|| {
                state
                    .points
                    .get(&PointKey {
                        of,
                        snapshot: false,
                        id: source.to_owned(),
                    })
                    .cloned()
            });
        if let Some(point) = point {
            state.points.insert(
                PointKey {
                    of,
                    snapshot: true,
                    id: snapshot.to_owned(),
                },
                point,
            );
        }
    }

    /// A snapshot copied (to another name, or region): the copy holds what the source holds.
    pub fn snapshot_copied(&self, of: Of, source: &str, copy: &str) {
        let mut state = self.state();
        let key = |id: &str| PointKey {
            of,
            snapshot: true,
            id: id.to_owned(),
        };
        if let Some(point) = state.points.get(&key(source)).cloned() {
            state.points.insert(key(copy), point);
        }
    }

    async fn listen(&self, of: Of, id: &str, route: Route, from: Option<Point>) {
        let Ok(listener) = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await else {
            return;
        };
        let Ok(port) = listener.local_addr().map(|a| a.port()) else {
            return;
        };
        let endpoint = wire::serve(listener, route.clone(), self.tls.clone());
        self.state().served.insert(
            (of, id.to_owned()),
            Served {
                port,
                route,
                endpoint: Some(endpoint),
                from,
            },
        );
    }

    async fn restore(&self, of: Of, id: &str, from: &Source) -> Result<(Route, Point), String> {
        let (key, cut) = match from {
            Source::Snapshot(snapshot) => (
                PointKey {
                    of,
                    snapshot: true,
                    id: snapshot.clone(),
                },
                None,
            ),
            Source::PointInTime { source, time } => (
                PointKey {
                    of,
                    snapshot: false,
                    id: source.clone(),
                },
                *time,
            ),
        };
        let found = self.state().points.get(&key).cloned();
        let Some(point) = found else {
            let what = if key.snapshot {
                of.snapshot_word()
            } else {
                of.word()
            };
            // Without PostgreSQL, that is the reason.
            self.programs()
                .map_err(|e| format!("the local sandbox's data plane is off: {e}"))?;
            return Err(format!(
                "{what} {} holds no data in the local sandbox: give its {} a `database:` in \
                 the seed file",
                named(&key.id),
                of.word()
            ));
        };
        // The earlier of the point's own cut and the restore's.
        let cut = match (point.cut, cut) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let server = self.server().await?;
        let target = db_name(of.word(), id);
        let fail = |e: sqlx::Error| format!("restoring the data of {}: {}", named(id), message(&e));
        let mut admin = server.connect("postgres").await.map_err(fail)?;
        copy_database(
            &server,
            &mut admin,
            &point.database,
            &target,
            &point.owner,
            cut,
            &point.stamps,
        )
        .await
        .map_err(fail)?;
        // Its master user connects; another instance's does not.
        raw(&format!(
            "REVOKE CONNECT ON DATABASE {} FROM PUBLIC",
            ident(&target)
        ))
        .execute(&mut admin)
        .await
        .map_err(fail)?;
        Server::close(admin).await;
        let route = Route::Database {
            server: server.addr,
            database: target,
        };
        Ok((route, Point { cut, ..point }))
    }

    /// A deleted instance or cluster: its endpoint closes and its database goes (a cluster
    /// member's endpoint only closes: its data is the cluster's).
    pub async fn deleted(&self, of: Of, id: &str) {
        if self.state().served.remove(&(of, id.to_owned())).is_none() {
            return;
        }
        let Ok(server) = self.server().await else {
            return;
        };
        if let Ok(mut admin) = server.connect("postgres").await {
            let _ = raw(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                ident(&db_name(of.word(), id))
            ))
            .execute(&mut admin)
            .await;
            Server::close(admin).await;
        }
    }

    /// Stops or starts a restored instance's database: stopped, its endpoint refuses
    /// connections and those open are ended. `Err` when the instance has no endpoint.
    pub async fn set_running(&self, instance: &str, running: bool) -> Result<(), String> {
        let key = {
            let state = self.state();
            let exact = (Of::Instance, instance.to_owned());
            if state.served.contains_key(&exact) {
                exact
            } else {
                // Named without its region: the one instance of that name.
                let mut alike = state.served.keys().filter(|(of, id)| {
                    *of == Of::Instance && id.rsplit('/').next() == Some(instance)
                });
                match (alike.next(), alike.next()) {
                    (Some(one), None) => one.clone(),
                    _ => exact,
                }
            }
        };
        let (port, route) = {
            let state = self.state();
            let served = state
                .served
                .get(&key)
                .ok_or_else(|| format!("`{instance}` is no restored instance of the data plane"))?;
            (served.port, served.route.clone())
        };
        let listening = self
            .state()
            .served
            .get(&key)
            .is_some_and(|s| s.endpoint.is_some());
        if running && listening {
            return Ok(());
        }
        if running {
            let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port))
                .await
                .map_err(|e| format!("cannot listen on port {port} again: {e}"))?;
            if let Some(s) = self.state().served.get_mut(&key) {
                s.endpoint = Some(wire::serve(listener, route, self.tls.clone()));
            }
            return Ok(());
        }
        if let Some(s) = self.state().served.get_mut(&key) {
            s.endpoint = None;
        }
        if let Route::Database { database, .. } = route
            && let Ok(server) = self.server().await
            && let Ok(mut admin) = server.connect("postgres").await
        {
            let _ = sqlx::query(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1",
            )
            .bind(&database)
            .execute(&mut admin)
            .await;
            Server::close(admin).await;
        }
        Ok(())
    }
}

/// Makes `data`'s tables in database `prod` as its master user, with their rows, then runs its
/// SQL. `Err`: what failed, and why.
async fn fill(
    server: &Server,
    prod: &str,
    data: &SeedData,
    now: DateTime<Utc>,
) -> Result<(), (String, sqlx::Error)> {
    let mut conn = server
        .connect(prod)
        .await
        .map_err(|e| ("connect".to_owned(), e))?;
    raw(&format!("SET ROLE {}", ident(&data.user)))
        .execute(&mut conn)
        .await
        .map_err(|e| ("the master user".to_owned(), e))?;
    for table in &data.tables {
        if let Some(sql) = create_table(table, now) {
            raw(&sql)
                .execute(&mut conn)
                .await
                .map_err(|e| (format!("table `{}`", table.name), e))?;
        }
    }
    if let Some(sql) = &data.sql {
        raw(sql)
            .execute(&mut conn)
            .await
            .map_err(|e| ("its SQL file".to_owned(), e))?;
    }
    Server::close(conn).await;
    Ok(())
}

/// Copies `template` to a new database `target` owned by `owner`, then deletes the rows of
/// `stamps` written after `cut`.
async fn copy_database(
    server: &Server,
    admin: &mut sqlx::PgConnection,
    template: &str,
    target: &str,
    owner: &str,
    cut: Option<DateTime<Utc>>,
    stamps: &[(String, String)],
) -> Result<(), sqlx::Error> {
    // One statement each: neither may run inside a transaction block.
    raw(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        ident(target)
    ))
    .execute(&mut *admin)
    .await?;
    raw(&format!(
        "CREATE DATABASE {} TEMPLATE {} OWNER {}",
        ident(target),
        ident(template),
        ident(owner)
    ))
    .execute(&mut *admin)
    .await?;
    let Some(cut) = cut.filter(|_| !stamps.is_empty()) else {
        return Ok(());
    };
    let mut conn = server.connect(target).await?;
    let at = literal(&cut.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    // Children are listed after their parents: their rows go first.
    for (table, column) in stamps.iter().rev() {
        raw(&format!(
            "DELETE FROM {} WHERE {} > {at}::timestamptz",
            ident(table),
            ident(column)
        ))
        .execute(&mut conn)
        .await?;
    }
    Server::close(conn).await;
    Ok(())
}

/// `CREATE TABLE` and `INSERT` of a seeded table (none when the seed's SQL makes it).
fn create_table(table: &Table, now: DateTime<Utc>) -> Option<String> {
    if table.columns.is_empty() {
        return None;
    }
    let mut columns = table.columns.clone();
    if let Some(stamp) = &table.timestamp
        && !columns.iter().any(|(name, _)| name == stamp)
    {
        columns.push((stamp.clone(), "timestamptz".to_owned()));
    }
    let defs: Vec<String> = columns
        .iter()
        .map(|(name, ty)| format!("{} {ty}", ident(name)))
        .collect();
    let mut sql = format!("CREATE TABLE {} ({});", ident(&table.name), defs.join(", "));
    if let Some((every, count)) = table.rows
        && count > 0
    {
        let now = literal(&now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        // Columns that fill themselves (serial, identity, defaults) are left to do so.
        let filled: Vec<&(String, String)> = columns
            .iter()
            .filter(|(name, ty)| {
                table.timestamp.as_deref() == Some(name.as_str()) || !fills_itself(ty)
            })
            .collect();
        let names: Vec<String> = filled.iter().map(|(n, _)| ident(n)).collect();
        let values: Vec<String> = filled
            .iter()
            .map(|(name, ty)| {
                let when = format!("({now}::timestamptz - g * make_interval(secs => {every}))");
                let n = format!("({count} - g)");
                if table.timestamp.as_deref() == Some(name.as_str()) {
                    when
                } else {
                    generated(name, ty, &n, &when)
                }
            })
            .collect();
        sql.push_str(&format!(
            " INSERT INTO {} ({}) SELECT {} FROM generate_series(0, {}) AS g;",
            ident(&table.name),
            names.join(", "),
            values.join(", "),
            count - 1
        ));
    }
    Some(sql)
}

/// Whether a column declared `ty` (`bigserial`, `int generated always as identity`, `text
/// default ...`) gives itself a value.
fn fills_itself(ty: &str) -> bool {
    let ty = ty.to_ascii_lowercase();
    ty.contains("serial") || ty.contains(" generated ") || ty.contains(" default ")
}

/// The generated value of a column declared `ty` (its type, then perhaps constraints) in row
/// number `n` written at `when`, of a type the column takes on assignment.
fn generated(name: &str, ty: &str, n: &str, when: &str) -> String {
    let ty = ty.to_ascii_lowercase();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| ty.starts_with(p));
    if starts(&["int", "bigint", "smallint"]) {
        n.to_owned()
    } else if starts(&["numeric", "decimal", "real", "double", "float"]) {
        format!("({n} * 1.25)")
    } else if starts(&["money"]) {
        format!("({n} * 1.25)::numeric::money")
    } else if starts(&["bool"]) {
        format!("({n} % 2 = 0)")
    } else if starts(&["timestamp", "date", "time"]) {
        when.to_owned()
    } else if starts(&["uuid"]) {
        format!("md5({n}::text)::uuid")
    } else if starts(&["jsonb"]) {
        format!("jsonb_build_object('n', {n})")
    } else if starts(&["json"]) {
        format!("json_build_object('n', {n})")
    } else if starts(&["text", "varchar", "character", "char", "citext", "name"]) {
        format!("({} || ' ' || {n})", literal(name))
    } else {
        "NULL".to_owned()
    }
}

/// A database name for `id` of `kind`, within PostgreSQL's 63 bytes.
fn db_name(kind: &str, id: &str) -> String {
    let name = format!("{kind}/{id}");
    if name.len() <= 63 {
        return name;
    }
    let hash = crate::util::hash(0, &[&name]);
    // The kind, a slash, as much of the id as fits, a dash and 16 hex digits.
    let room = 63usize.saturating_sub(kind.len() + 18);
    let mut keep = String::new();
    for c in id.chars() {
        if keep.len() + c.len_utf8() > room {
            break;
        }
        keep.push(c);
    }
    format!("{kind}/{keep}-{hash:016x}")
}

/// SQL made here from quoted identifiers and literals, or the seed's own SQL file.
fn raw(sql: &str) -> sqlx::RawSql {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{text}` is not an RFC 3339 time"))
}

/// What the server said, without the driver's wrapping.
fn message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_fit_postgres() {
        assert_eq!(db_name("instance", "fd-1-db"), "instance/fd-1-db");
        for kind in [
            "instance-snapshot",
            "cluster-snapshot",
            "prod-instance",
            "cluster",
        ] {
            let long = db_name(kind, &"x".repeat(63));
            assert!(long.len() <= 63, "{long}");
            assert_ne!(long, db_name(kind, &"x".repeat(62)));
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn generated_tables_have_their_timestamp_and_rows() {
        let table = Table {
            name: "orders".into(),
            columns: vec![
                ("id".into(), "bigint".into()),
                ("item".into(), "text".into()),
            ],
            timestamp: Some("placed_at".into()),
            rows: Some((600.0, 3)),
        };
        let now = time("2026-12-01T00:00:00Z").expect("time");
        let sql = create_table(&table, now).expect("a table");
        assert!(sql.starts_with(
            "CREATE TABLE \"orders\" (\"id\" bigint, \"item\" text, \"placed_at\" timestamptz);"
        ));
        assert!(sql.contains("generate_series(0, 2)"), "{sql}");
        assert!(sql.contains("make_interval(secs => 600)"), "{sql}");
    }
}
