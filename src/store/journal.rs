//! The journal: the durable record of every run, in SQLite (WAL mode) in the state directory.
//!
//! It holds runs, their step events with timestamps, and the resources they create with their
//! status. A creating action writes its *intent* (kind, step, the name or idempotency token it
//! will use) before the create call, durably, and the resource id after; so after a crash
//! between the two, `firedrill teardown` knows what to look for and can find it or prove it
//! absent. The schema is versioned (`PRAGMA user_version`) and migrated on open.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// The schema version this firedrill writes.
pub const SCHEMA_VERSION: i64 = 5;

/// The migrations, in order: `MIGRATIONS[n]` takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE runs (
        id            TEXT PRIMARY KEY,
        playbook      TEXT NOT NULL,
        playbook_path TEXT NOT NULL,
        account       TEXT,
        region        TEXT,
        teardown      TEXT NOT NULL,
        started_at    TEXT NOT NULL,
        finished_at   TEXT,
        state         TEXT NOT NULL,
        report        TEXT
    );
    CREATE TABLE events (
        run_id  TEXT NOT NULL REFERENCES runs(id),
        seq     INTEGER NOT NULL,
        at      TEXT NOT NULL,
        step    TEXT,
        kind    TEXT NOT NULL,
        detail  TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE resources (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id       TEXT NOT NULL REFERENCES runs(id),
        step         TEXT NOT NULL,
        kind         TEXT NOT NULL,
        token        TEXT NOT NULL,
        region       TEXT NOT NULL,
        resource_id  TEXT,
        status       TEXT NOT NULL,
        detail       TEXT NOT NULL DEFAULT '',
        intended_at  TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        UNIQUE (run_id, kind, token)
    );
    CREATE INDEX resources_by_run ON resources(run_id, status);
",
    "
    -- What `firedrill teardown` needs after a crash, without the playbook: where the run
    -- talked to (endpoint, role, the local sandbox it used), the steps' dependencies (to
    -- delete in reverse order), and until when `keep_for` keeps its resources.
    ALTER TABLE runs ADD COLUMN endpoint TEXT;
    ALTER TABLE runs ADD COLUMN role_arn TEXT;
    ALTER TABLE runs ADD COLUMN local_sandbox TEXT;
    ALTER TABLE runs ADD COLUMN graph TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE runs ADD COLUMN keep_until TEXT;
    ALTER TABLE runs ADD COLUMN teardown_state TEXT;
",
    "
    -- How long each step that succeeded took, per run: what `firedrill plan` learns from,
    -- without reading whole reports (those of a 10,000-step playbook are megabytes each).
    -- Written with the report by `finish_run`; filled here from the reports already stored.
    CREATE TABLE step_durations (
        run_id  TEXT NOT NULL REFERENCES runs(id),
        step    TEXT NOT NULL,
        uses    TEXT NOT NULL,
        secs    REAL NOT NULL,
        PRIMARY KEY (run_id, step)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO step_durations (run_id, step, uses, secs)
        SELECT runs.id, s.value ->> '$.id', s.value ->> '$.uses', s.value ->> '$.duration_secs'
        FROM runs, json_each(runs.report, '$.steps') AS s
        WHERE runs.report IS NOT NULL AND json_valid(runs.report)
          AND s.value ->> '$.state' = 'succeeded'
          AND s.value ->> '$.id' IS NOT NULL AND s.value ->> '$.uses' IS NOT NULL
          AND s.value ->> '$.duration_secs' IS NOT NULL;
",
    "
    -- Tabletop walkthroughs (`firedrill walkthrough`): each one's record as JSON, kept up to
    -- date while it goes on, and the columns `history` and the next walkthrough look up.
    CREATE TABLE walkthroughs (
        id           TEXT PRIMARY KEY,
        playbook     TEXT NOT NULL,
        playbook_path TEXT NOT NULL,
        file_hash    TEXT NOT NULL,
        facilitator  TEXT NOT NULL,
        started_at   TEXT NOT NULL,
        finished_at  TEXT,
        state        TEXT NOT NULL,
        record       TEXT NOT NULL
    );
    CREATE INDEX walkthroughs_by_playbook ON walkthroughs (playbook, started_at);
",
    "
    -- What a run ran against, for learning durations only from runs like it (`aws`,
    -- `local@0.01`, `endpoint`). Runs of older firedrills: AWS when they named no endpoint and
    -- no local sandbox; the local sandbox at a time scale nobody recorded (so no plan learns
    -- from them); otherwise an endpoint.
    -- And the shared AWS profile it took its credentials from (`--profile`), which a later
    -- `firedrill teardown` of it uses unless told another.
    ALTER TABLE runs ADD COLUMN target TEXT;
    ALTER TABLE runs ADD COLUMN profile TEXT;
    UPDATE runs SET target = CASE
        WHEN local_sandbox IS NOT NULL THEN 'local@unknown'
        WHEN endpoint IS NULL THEN 'aws'
        ELSE 'endpoint' END;
",
];

/// Why the journal failed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite failed.
    #[error("the journal at {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// The journal was written by a newer firedrill.
    #[error(
        "the journal at {path} has schema version {found}; this firedrill reads up to {SCHEMA_VERSION}: upgrade firedrill"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: i64,
    },
    /// The journal's writer thread is gone (it failed to commit, or the run is ending).
    #[error("the journal's writer stopped before confirming a write")]
    Closed,
    /// The state directory cannot be made.
    #[error("cannot create the state directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Where a resource is in its life, as far as the run knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceStatus {
    /// The create call is about to be made, or was made and its answer is unknown (a crash):
    /// the resource may exist, under its token.
    Intended,
    /// It exists; its id is known.
    Created,
    /// Its deletion was asked for.
    Deleting,
    /// It is gone.
    Deleted,
    /// Deleting it failed; it is left behind.
    Failed,
}

impl ResourceStatus {
    fn as_str(self) -> &'static str {
        match self {
            ResourceStatus::Intended => "intended",
            ResourceStatus::Created => "created",
            ResourceStatus::Deleting => "deleting",
            ResourceStatus::Deleted => "deleted",
            ResourceStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "created" => ResourceStatus::Created,
            "deleting" => ResourceStatus::Deleting,
            "deleted" => ResourceStatus::Deleted,
            "failed" => ResourceStatus::Failed,
            _ => ResourceStatus::Intended,
        }
    }
}

/// A run as the journal knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// The run id.
    pub id: String,
    /// The playbook's name.
    pub playbook: String,
    /// The playbook file.
    pub playbook_path: String,
    /// The account the guard found.
    pub account: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// The teardown policy.
    pub teardown: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it finished, if it did.
    pub finished_at: Option<String>,
    /// `running`, or its final state.
    pub state: String,
    /// The endpoint override it used, if any.
    pub endpoint: Option<String>,
    /// The role it assumed, if any.
    pub role_arn: Option<String>,
    /// The start time of the local sandbox it ran against, if it did (a restarted sandbox
    /// no longer holds the run's resources).
    pub local_sandbox: Option<String>,
    /// Each step's dependencies (JSON: `{"step": ["dep", ...]}`).
    pub graph: String,
    /// Until when `keep_for` keeps its resources (RFC 3339).
    pub keep_until: Option<String>,
    /// How its teardown went: `done`, `incomplete`, `kept`, `skipped`.
    pub teardown_state: Option<String>,
    /// The shared AWS profile it used (`--profile`), if one was named.
    pub profile: Option<String>,
}

/// A resource a run created or meant to create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRecord {
    /// The journal's id of the row.
    pub id: i64,
    /// The run.
    pub run_id: String,
    /// The step that created it.
    pub step: String,
    /// Its kind (`rds-instance`, `ec2-instance`, ...).
    pub kind: String,
    /// The name or idempotency token derived from the run id, to find it after a crash.
    pub token: String,
    /// Its region.
    pub region: String,
    /// Its id (ARN, instance id), once known.
    pub resource_id: Option<String>,
    /// Its status.
    pub status: ResourceStatus,
    /// Why it failed, or other notes.
    pub detail: String,
    /// When its create call was about to be made (RFC 3339): the intent is journaled just
    /// before the call. None only in reports of an older firedrill.
    #[serde(default)]
    pub intended_at: Option<String>,
    /// When its status last changed (RFC 3339): for a deleted resource, when it was found
    /// gone. None only in reports of an older firedrill.
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A new run. The default is a run of no playbook, torn down `always`, with no graph.
#[derive(Clone, Debug)]
pub struct NewRun<'a> {
    /// The run id.
    pub id: &'a str,
    /// The playbook's name.
    pub playbook: &'a str,
    /// The playbook file.
    pub playbook_path: &'a str,
    /// The region.
    pub region: Option<&'a str>,
    /// The teardown policy.
    pub teardown: &'a str,
    /// The endpoint override, if any.
    pub endpoint: Option<&'a str>,
    /// What it runs against (`playbook::learned::Target::key`).
    pub target: &'a str,
    /// The shared AWS profile named for it, if any.
    pub profile: Option<&'a str>,
    /// The role assumed, if any.
    pub role_arn: Option<&'a str>,
    /// The start time of the local sandbox it runs against.
    pub local_sandbox: Option<&'a str>,
    /// Each step's dependencies, as JSON.
    pub graph: &'a str,
}

impl Default for NewRun<'_> {
    fn default() -> Self {
        Self {
            id: "",
            playbook: "",
            playbook_path: "",
            region: None,
            teardown: "always",
            endpoint: None,
            target: "aws",
            profile: None,
            role_arn: None,
            local_sandbox: None,
            graph: "{}",
        }
    }
}

/// The journal in a state directory.
pub struct Journal {
    pub(super) conn: Connection,
    path: PathBuf,
}

/// Keeps each prepared statement's query plan across bindings. SQLite as bundled (with
/// `STAT4`) otherwise re-prepares a statement whenever a parameter compared with an indexed
/// column is bound again: the event insert (`WHERE run_id = ?1`) was parsed and planned anew
/// for every event, two thirds of the journal thread's time in a 200-step run (README, The
/// dispatcher).
fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map(|_| ())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Journal {
    /// The journal's file in `state_dir`.
    pub fn file(state_dir: &Path) -> PathBuf {
        state_dir.join("journal.sqlite3")
    }

    /// Opens (creating and migrating) the journal in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Self, JournalError> {
        std::fs::create_dir_all(state_dir).map_err(|source| JournalError::Dir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = Self::file(state_dir);
        let fail = |source| JournalError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(fail)?;
        // WAL: readers (`firedrill history`, a second `teardown`) never block the run; FULL:
        // a committed intent survives a power cut, not only a crash of the process.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(fail)?;
        stable_plans(&conn).map_err(fail)?;
        let mut journal = Self { conn, path };
        journal.migrate()?;
        Ok(journal)
    }

    /// Opens the journal in `state_dir` for reading only, without creating or migrating
    /// anything: `None` when there is no journal yet (or an empty one).
    pub fn open_read_only(state_dir: &Path) -> Result<Option<Self>, JournalError> {
        let path = Self::file(state_dir);
        if !path.exists() {
            return Ok(None);
        }
        let fail = |source| JournalError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(fail)?;
        stable_plans(&conn).map_err(fail)?;
        let journal = Self { conn, path };
        match journal.version()? {
            0 => Ok(None),
            found if found > SCHEMA_VERSION => Err(JournalError::TooNew {
                path: journal.path,
                found,
            }),
            _ => Ok(Some(journal)),
        }
    }

    /// Opens (and migrates) the journal in `state_dir` if there is one; `None` otherwise, and
    /// nothing is created.
    pub fn open_existing(state_dir: &Path) -> Result<Option<Self>, JournalError> {
        if Self::file(state_dir).exists() {
            Self::open(state_dir).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(super) fn fail(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        |source| JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The schema version of the open file.
    pub fn version(&self) -> Result<i64, JournalError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(self.fail())
    }

    fn migrate(&mut self) -> Result<(), JournalError> {
        let found = self.version()?;
        if found > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path: self.path.clone(),
                found,
            });
        }
        let path = self.path.clone();
        let fail = |source| JournalError::Sqlite {
            path: path.clone(),
            source,
        };
        for (version, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(found).unwrap_or(0))
        {
            let tx = self.conn.transaction().map_err(fail)?;
            tx.execute_batch(sql).map_err(fail)?;
            tx.pragma_update(
                None,
                "user_version",
                i64::try_from(version + 1).unwrap_or(i64::MAX),
            )
            .map_err(fail)?;
            tx.commit().map_err(fail)?;
        }
        Ok(())
    }

    /// Records the start of a run.
    pub fn begin_run(&self, run: &NewRun<'_>) -> Result<(), JournalError> {
        self.conn
            .execute(
                "INSERT INTO runs (id, playbook, playbook_path, region, teardown, started_at, state, endpoint, role_arn, local_sandbox, graph, target, profile)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    run.id,
                    run.playbook,
                    run.playbook_path,
                    run.region,
                    run.teardown,
                    now(),
                    run.endpoint,
                    run.role_arn,
                    run.local_sandbox,
                    run.graph,
                    run.target,
                    run.profile
                ],
            )
            .map_err(self.fail())?;
        Ok(())
    }

    /// Records the account the guard found.
    pub fn set_account(&self, run_id: &str, account: &str) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE runs SET account = ?2 WHERE id = ?1",
                params![run_id, account],
            )
            .map_err(self.fail())?;
        Ok(())
    }

    /// Records the end of a run, with its final state and report (and, from the report, how
    /// long each step that succeeded took), all or nothing: in a savepoint, which also works
    /// inside the recorder's batches.
    pub fn finish_run(&self, run_id: &str, state: &str, report: &str) -> Result<(), JournalError> {
        self.conn
            .execute_batch("SAVEPOINT finish_run")
            .map_err(self.fail())?;
        let written = self.write_finish(run_id, state, report);
        let end = if written.is_ok() {
            "RELEASE finish_run"
        } else {
            "ROLLBACK TO finish_run; RELEASE finish_run"
        };
        let ended = self.conn.execute_batch(end).map_err(self.fail());
        written.and(ended)
    }

    fn write_finish(&self, run_id: &str, state: &str, report: &str) -> Result<(), JournalError> {
        let updated = self
            .conn
            .execute(
                "UPDATE runs SET finished_at = ?2, state = ?3, report = ?4 WHERE id = ?1",
                params![run_id, now(), state, report],
            )
            .map_err(self.fail())?;
        // No such run (nothing to attach durations to), or no report to read them from.
        let Some(durations) = (updated > 0)
            .then(|| serde_json::from_str::<ReportDurations>(report).ok())
            .flatten()
        else {
            return Ok(());
        };
        let mut insert = self
            .conn
            .prepare_cached(
                "INSERT OR REPLACE INTO step_durations (run_id, step, uses, secs) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(self.fail())?;
        for step in durations.steps {
            if step.state == "succeeded"
                && let Some(secs) = step.duration_secs.filter(|d| d.is_finite())
            {
                insert
                    .execute(params![run_id, step.id, step.uses, secs])
                    .map_err(self.fail())?;
            }
        }
        Ok(())
    }

    /// Records how the run's teardown went, and until when its resources are kept.
    pub fn set_teardown_state(
        &self,
        run_id: &str,
        state: &str,
        keep_until: Option<&str>,
    ) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE runs SET teardown_state = ?2, keep_until = COALESCE(?3, keep_until) WHERE id = ?1",
                params![run_id, state, keep_until],
            )
            .map_err(self.fail())?;
        Ok(())
    }

    /// Whether commits wait for the disk (`synchronous = FULL`, the default) or not
    /// (`NORMAL`: in WAL mode, safe against a crash of the process, not against power loss).
    pub fn set_durable(&self, durable: bool) {
        let _ =
            self.conn
                .pragma_update(None, "synchronous", if durable { "FULL" } else { "NORMAL" });
    }

    /// Runs `f` in one transaction (one durable commit for many writes). A failed statement
    /// inside does not undo the others; a failed commit is rolled back, so that the next
    /// batch starts clean.
    pub fn batch<R>(&self, f: impl FnOnce(&Self) -> R) -> Result<R, JournalError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.fail())?;
        let out = f(self);
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(self.fail()(e));
        }
        Ok(out)
    }

    /// Marks a run that is still `running` as `crashed` (its process died); a run that
    /// finished keeps its state and report.
    pub fn mark_crashed(&self, run_id: &str) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE runs SET state = 'crashed', finished_at = COALESCE(finished_at, ?2) WHERE id = ?1 AND state = 'running'",
                params![run_id, now()],
            )
            .map_err(self.fail())?;
        Ok(())
    }

    /// Appends an event to a run, now.
    pub fn event(
        &self,
        run_id: &str,
        step: Option<&str>,
        kind: &str,
        detail: &str,
    ) -> Result<(), JournalError> {
        self.event_at(run_id, &now(), step, kind, detail)
    }

    /// Appends an event that happened `at` (RFC 3339) to a run.
    pub fn event_at(
        &self,
        run_id: &str,
        at: &str,
        step: Option<&str>,
        kind: &str,
        detail: &str,
    ) -> Result<(), JournalError> {
        self.conn
            .prepare_cached(
                "INSERT INTO events (run_id, seq, at, step, kind, detail)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE run_id = ?1), ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| stmt.execute(params![run_id, at, step, kind, detail]))
            .map_err(self.fail())?;
        Ok(())
    }

    /// Records, durably, that `step` is about to create a resource of `kind` named or tokened
    /// `token`. Call before the create call; the returned id names the row. Recording the same
    /// intent twice (a retried create) returns the same row.
    pub fn intend(
        &self,
        run_id: &str,
        step: &str,
        kind: &str,
        token: &str,
        region: &str,
    ) -> Result<i64, JournalError> {
        let at = now();
        self.conn
            .execute(
                "INSERT INTO resources (run_id, step, kind, token, region, status, intended_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'intended', ?6, ?6)
                 ON CONFLICT (run_id, kind, token) DO NOTHING",
                params![run_id, step, kind, token, region, at],
            )
            .map_err(self.fail())?;
        self.conn
            .query_row(
                "SELECT id FROM resources WHERE run_id = ?1 AND kind = ?2 AND token = ?3",
                params![run_id, kind, token],
                |r| r.get(0),
            )
            .map_err(self.fail())
    }

    /// Records that the resource of row `id` exists, with its id.
    pub fn created(&self, id: i64, resource_id: &str) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE resources SET resource_id = ?2, status = 'created', updated_at = ?3 WHERE id = ?1",
                params![id, resource_id, now()],
            )
            .map_err(self.fail())?;
        Ok(())
    }

    /// Sets the status of row `id`, with a note.
    pub fn set_status(
        &self,
        id: i64,
        status: ResourceStatus,
        detail: &str,
    ) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE resources SET status = ?2, detail = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, status.as_str(), detail, now()],
            )
            .map_err(self.fail())?;
        Ok(())
    }

    /// The resources of a run, in the order they were intended.
    pub fn resources(&self, run_id: &str) -> Result<Vec<ResourceRecord>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, run_id, step, kind, token, region, resource_id, status, detail, intended_at, updated_at
                 FROM resources WHERE run_id = ?1 ORDER BY id",
            )
            .map_err(self.fail())?;
        let rows = stmt
            .query_map(params![run_id], |r| {
                Ok(ResourceRecord {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    step: r.get(2)?,
                    kind: r.get(3)?,
                    token: r.get(4)?,
                    region: r.get(5)?,
                    resource_id: r.get(6)?,
                    status: ResourceStatus::parse(&r.get::<_, String>(7)?),
                    detail: r.get(8)?,
                    intended_at: r.get(9)?,
                    updated_at: r.get(10)?,
                })
            })
            .map_err(self.fail())?;
        rows.collect::<Result<_, _>>().map_err(self.fail())
    }

    /// A run.
    pub fn run(&self, run_id: &str) -> Result<Option<RunRecord>, JournalError> {
        self.conn
            .query_row(
                "SELECT id, playbook, playbook_path, account, region, teardown, started_at, finished_at, state, endpoint, role_arn, local_sandbox, graph, keep_until, teardown_state, profile FROM runs WHERE id = ?1",
                params![run_id],
                run_record,
            )
            .optional()
            .map_err(self.fail())
    }

    /// The report a finished run stored (`finish_run`), if it has one: none for a run still
    /// running, crashed, or refused by the guard.
    pub fn report(&self, run_id: &str) -> Result<Option<String>, JournalError> {
        let report: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT report FROM runs WHERE id = ?1",
                params![run_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.fail())?;
        Ok(report.flatten().filter(|r| !r.trim().is_empty()))
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, playbook, playbook_path, account, region, teardown, started_at, finished_at, state, endpoint, role_arn, local_sandbox, graph, keep_until, teardown_state, profile
                 FROM runs ORDER BY started_at DESC, id DESC",
            )
            .map_err(self.fail())?;
        let rows = stmt.query_map([], run_record).map_err(self.fail())?;
        rows.collect::<Result<_, _>>().map_err(self.fail())
    }

    /// The runs of one playbook (by its name), or of every playbook, with their stored
    /// reports, oldest first; `newest` keeps only that many of the most recent. One query:
    /// what `firedrill history` lists and `firedrill plan` learns from.
    pub fn reports(
        &self,
        playbook: Option<&str>,
        newest: Option<usize>,
    ) -> Result<Vec<StoredRun>, JournalError> {
        let limit = newest.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, playbook, playbook_path, started_at, state, report FROM (
                     SELECT id, playbook, playbook_path, started_at, state, report FROM runs
                     WHERE ?1 IS NULL OR playbook = ?1
                     ORDER BY started_at DESC, id DESC LIMIT ?2
                 ) ORDER BY started_at, id",
            )
            .map_err(self.fail())?;
        let rows = stmt
            .query_map(params![playbook, limit], |r| {
                Ok(StoredRun {
                    id: r.get(0)?,
                    playbook: r.get(1)?,
                    playbook_path: r.get(2)?,
                    started_at: r.get(3)?,
                    state: r.get(4)?,
                    report: r.get(5)?,
                })
            })
            .map_err(self.fail())?;
        rows.collect::<Result<_, _>>().map_err(self.fail())
    }

    /// The durations, in seconds, of the steps that succeeded in the most recent `newest`
    /// finished runs of `playbook` against `target` (`playbook::learned::Target::key`): calls `f(step id, kind, seconds)` for each, borrowing the
    /// text from SQLite (a 10,000-step playbook has 200,000 of them in 20 runs); returns how
    /// many runs they come from. Reads the `step_durations` table, not the reports: one query
    /// for the durations, one for the count of runs.
    pub fn each_step_duration(
        &self,
        playbook: &str,
        target: &str,
        newest: usize,
        mut f: impl FnMut(&str, &str, f64),
    ) -> Result<usize, JournalError> {
        let limit = i64::try_from(newest).unwrap_or(i64::MAX);
        let recent = "SELECT id FROM runs
             WHERE playbook = ?1 AND target = ?3 AND octet_length(report) > 0
             ORDER BY started_at DESC, id DESC LIMIT ?2";
        // (`octet_length` reads the size of a report, not the megabytes of a large one.)
        let runs: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) FROM ({recent})"),
                params![playbook, limit, target],
                |r| r.get(0),
            )
            .map_err(self.fail())?;
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT d.step, d.uses, d.secs FROM step_durations AS d
                 JOIN ({recent}) AS recent ON d.run_id = recent.id"
            ))
            .map_err(self.fail())?;
        let mut rows = stmt
            .query(params![playbook, limit, target])
            .map_err(self.fail())?;
        while let Some(row) = rows.next().map_err(self.fail())? {
            let text = |i| {
                row.get_ref(i)
                    .ok()
                    .and_then(|v| v.as_str().ok())
                    .unwrap_or_default()
            };
            if let Ok(secs) = row.get::<_, f64>(2) {
                f(text(0), text(1), secs);
            }
        }
        Ok(usize::try_from(runs).unwrap_or(0))
    }

    /// The runs with resources not known to be deleted: what `firedrill teardown` resumes.
    pub fn unfinished_teardowns(&self) -> Result<Vec<String>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT DISTINCT run_id FROM resources WHERE status != 'deleted' ORDER BY run_id",
            )
            .map_err(self.fail())?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(self.fail())?;
        rows.collect::<Result<_, _>>().map_err(self.fail())
    }

    /// The events of a run, in order.
    pub fn events(&self, run_id: &str) -> Result<Vec<EventRecord>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, at, step, kind, detail FROM events WHERE run_id = ?1 ORDER BY seq",
            )
            .map_err(self.fail())?;
        let rows = stmt
            .query_map(params![run_id], |r| {
                Ok(EventRecord {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    step: r.get(2)?,
                    kind: r.get(3)?,
                    detail: r.get(4)?,
                })
            })
            .map_err(self.fail())?;
        rows.collect::<Result<_, _>>().map_err(self.fail())
    }
}

/// The steps of a stored report, as far as `step_durations` needs them.
#[derive(Deserialize)]
struct ReportDurations {
    #[serde(default)]
    steps: Vec<StepDuration>,
}

/// A step of a stored report: how long it took, if it succeeded.
#[derive(Deserialize)]
struct StepDuration {
    id: String,
    uses: String,
    state: String,
    #[serde(default)]
    duration_secs: Option<f64>,
}

/// A run with its stored report, as [`Journal::reports`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRun {
    /// The run id.
    pub id: String,
    /// The playbook's name.
    pub playbook: String,
    /// The playbook file, as it was given to `firedrill run`.
    pub playbook_path: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// `running`, or its final state.
    pub state: String,
    /// Its JSON report, once it finished (none for a run still running, crashed or refused).
    pub report: Option<String>,
}

/// An event of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    /// Its number in the run, from 1.
    pub seq: i64,
    /// When (RFC 3339, milliseconds).
    pub at: String,
    /// The step it concerns, if any.
    pub step: Option<String>,
    /// What happened (`started`, `succeeded`, ...).
    pub kind: String,
    /// Details (JSON or text).
    pub detail: String,
}

fn run_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: r.get(0)?,
        playbook: r.get(1)?,
        playbook_path: r.get(2)?,
        account: r.get(3)?,
        region: r.get(4)?,
        teardown: r.get(5)?,
        started_at: r.get(6)?,
        finished_at: r.get(7)?,
        state: r.get(8)?,
        endpoint: r.get(9)?,
        role_arn: r.get(10)?,
        local_sandbox: r.get(11)?,
        graph: r.get(12)?,
        keep_until: r.get(13)?,
        teardown_state: r.get(14)?,
        profile: r.get(15)?,
    })
}

/// A new run id: `YYYYMMDD-HHMMSS-` and eight hex digits, sortable by time and short enough to
/// go into resource names (`fd-<run id>-<step>`).
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let nanos = u64::try_from(now.timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0);
    let salt = crate::util::hash(nanos, &[&std::process::id().to_string()]);
    format!("{}-{:08x}", now.format("%Y%m%d-%H%M%S"), salt & 0xFFFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connection_keeps_its_query_plans_across_bindings() {
        use rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG;
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(dir.path()).expect("open");
        assert!(
            journal
                .conn
                .db_config(SQLITE_DBCONFIG_ENABLE_QPSG)
                .expect("config")
        );
        let reader = Journal::open_read_only(dir.path())
            .expect("open")
            .expect("a journal");
        assert!(
            reader
                .conn
                .db_config(SQLITE_DBCONFIG_ENABLE_QPSG)
                .expect("config")
        );
    }

    fn run(journal: &Journal, id: &str) {
        journal
            .begin_run(&NewRun {
                id,
                ..NewRun::default()
            })
            .expect("begin");
    }

    #[test]
    fn a_run_keeps_what_it_ran_against_and_the_profile_it_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(dir.path()).expect("open");
        journal
            .begin_run(&NewRun {
                id: "r1",
                target: "local@0.01",
                profile: Some("drills"),
                ..NewRun::default()
            })
            .expect("begin");
        let r = journal.run("r1").expect("query").expect("recorded");
        assert_eq!(r.profile.as_deref(), Some("drills"));
        let target: String = journal
            .conn
            .query_row("SELECT target FROM runs WHERE id = 'r1'", [], |r| r.get(0))
            .expect("target");
        assert_eq!(target, "local@0.01");
    }

    #[test]
    fn opens_in_wal_mode_at_the_current_version_and_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(dir.path()).expect("open");
        assert_eq!(journal.version().expect("version"), SCHEMA_VERSION);
        let mode: String = journal
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");
        run(&journal, "r1");
        drop(journal);
        let again = Journal::open(dir.path()).expect("reopen");
        assert_eq!(
            again.run("r1").expect("query").map(|r| r.state),
            Some("running".into())
        );
    }

    #[test]
    fn a_version_1_journal_is_migrated_and_keeps_its_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let conn = Connection::open(Journal::file(dir.path())).expect("sqlite");
            conn.execute_batch(MIGRATIONS[0]).expect("v1 schema");
            conn.pragma_update(None, "user_version", 1).expect("v1");
            conn.execute(
                "INSERT INTO runs (id, playbook, playbook_path, teardown, started_at, state) VALUES ('old', 'p', 'p.yaml', 'always', '2026-01-01T00:00:00Z', 'passed')",
                [],
            )
            .expect("a v1 run");
        }
        let journal = Journal::open(dir.path()).expect("open migrates");
        assert_eq!(journal.version().expect("version"), SCHEMA_VERSION);
        let old = journal.run("old").expect("query").expect("kept");
        assert_eq!((old.state.as_str(), old.graph.as_str()), ("passed", "{}"));
        assert_eq!(old.keep_until, None);
    }

    fn durations(journal: &Journal, playbook: &str, newest: usize) -> (usize, Vec<(String, f64)>) {
        let mut out = Vec::new();
        let runs = journal
            .each_step_duration(playbook, "aws", newest, |id, uses, secs| {
                out.push((format!("{id}/{uses}"), secs));
            })
            .expect("durations");
        out.sort_by(|a, b| a.1.total_cmp(&b.1));
        (runs, out)
    }

    fn report(steps: &[(&str, &str, &str, Option<f64>)]) -> String {
        let steps: Vec<serde_json::Value> = steps
            .iter()
            .map(|(id, uses, state, d)| {
                serde_json::json!({"id": id, "uses": uses, "state": state, "duration_secs": d})
            })
            .collect();
        serde_json::json!({"format_version": 1, "steps": steps}).to_string()
    }

    #[test]
    fn step_durations_of_succeeded_steps_of_the_newest_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(dir.path()).expect("open");
        for (id, playbook, secs) in [
            ("r1", "p", 1.0),
            ("r2", "p", 2.0),
            ("r3", "q", 9.0),
            ("r4", "p", 4.0),
        ] {
            journal
                .begin_run(&NewRun {
                    id,
                    playbook,
                    ..NewRun::default()
                })
                .expect("begin");
            journal
                .finish_run(
                    id,
                    "passed",
                    &report(&[
                        ("a", "wait", "succeeded", Some(secs)),
                        ("b", "run", "failed", Some(5.0)),
                    ]),
                )
                .expect("finish");
        }
        journal
            .begin_run(&NewRun {
                id: "r5",
                playbook: "p",
                ..NewRun::default()
            })
            .expect("running");
        journal
            .finish_run("r6", "refused", "")
            .expect("a refused run has no report");
        assert_eq!(
            durations(&journal, "p", 2),
            (
                2,
                vec![("a/wait".to_owned(), 2.0), ("a/wait".to_owned(), 4.0)]
            ),
            "the succeeded steps of the two newest finished runs of p"
        );
    }

    #[test]
    fn a_run_finishes_inside_a_batch_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(dir.path()).expect("open");
        run(&journal, "r1");
        journal
            .batch(|j| {
                j.finish_run(
                    "r1",
                    "passed",
                    &report(&[("a", "wait", "succeeded", Some(1.0))]),
                )
            })
            .expect("batch")
            .expect("finished in the batch");
        assert_eq!(
            journal.run("r1").expect("run").map(|r| r.state),
            Some("passed".into())
        );
        assert_eq!(durations(&journal, "", 5).1.len(), 1);
    }

    #[test]
    fn a_version_2_journal_learns_the_durations_of_its_stored_reports() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let conn = Connection::open(Journal::file(dir.path())).expect("sqlite");
            conn.execute_batch(MIGRATIONS[0]).expect("v1");
            conn.execute_batch(MIGRATIONS[1]).expect("v2");
            conn.pragma_update(None, "user_version", 2).expect("v2");
            conn.execute(
                "INSERT INTO runs (id, playbook, playbook_path, teardown, started_at, state, report) VALUES ('old', 'p', 'p.yaml', 'always', '2026-01-01T00:00:00Z', 'passed', ?1), ('bad', 'p', 'p.yaml', 'always', '2026-01-02T00:00:00Z', 'refused', '')",
                [report(&[("a", "wait", "succeeded", Some(3.5)), ("b", "run", "skipped", None)])],
            )
            .expect("v2 runs");
        }
        let journal = Journal::open(dir.path()).expect("open migrates");
        assert_eq!(journal.version().expect("version"), SCHEMA_VERSION);
        assert_eq!(
            durations(&journal, "p", 20),
            (1, vec![("a/wait".to_owned(), 3.5)])
        );
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(dir.path()).expect("open");
        journal
            .conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
        drop(journal);
        assert!(matches!(
            Journal::open(dir.path()),
            Err(JournalError::TooNew { .. })
        ));
    }

    #[test]
    fn an_intent_is_visible_to_another_process_before_the_create_answers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(dir.path()).expect("open");
        run(&journal, "r1");
        let id = journal
            .intend("r1", "db", "rds-instance", "fd-r1-db", "us-east-1")
            .expect("intend");
        assert_eq!(
            journal
                .intend("r1", "db", "rds-instance", "fd-r1-db", "us-east-1")
                .expect("again"),
            id,
            "idempotent"
        );
        // A second connection (as `firedrill teardown` after a crash) sees the intent.
        let other = Journal::open(dir.path()).expect("second connection");
        let seen = other.resources("r1").expect("resources");
        assert_eq!(seen.len(), 1);
        assert_eq!(
            (seen[0].status, seen[0].resource_id.clone()),
            (ResourceStatus::Intended, None)
        );
        assert_eq!(other.unfinished_teardowns().expect("unfinished"), ["r1"]);

        journal
            .created(id, "arn:aws:rds:us-east-1:123456789012:db:fd-r1-db")
            .expect("created");
        journal
            .set_status(id, ResourceStatus::Deleted, "")
            .expect("deleted");
        let seen = other.resources("r1").expect("resources");
        assert_eq!(seen[0].status, ResourceStatus::Deleted);
        // When it was intended and when it was found deleted: the teardown record's times.
        let (intended, updated) = (
            seen[0].intended_at.clone().expect("intended at"),
            seen[0].updated_at.clone().expect("updated at"),
        );
        assert!(intended <= updated, "{intended} <= {updated}");
        assert!(other.unfinished_teardowns().expect("unfinished").is_empty());
    }

    #[test]
    fn events_are_numbered_per_run_and_runs_listed_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(dir.path()).expect("open");
        run(&journal, "20260101-000000-aaaaaaaa");
        run(&journal, "20260102-000000-bbbbbbbb");
        journal
            .event("20260101-000000-aaaaaaaa", Some("db"), "started", "")
            .expect("event");
        journal
            .event("20260101-000000-aaaaaaaa", Some("db"), "succeeded", "{}")
            .expect("event");
        journal
            .event("20260102-000000-bbbbbbbb", None, "started", "")
            .expect("event");
        let events = journal.events("20260101-000000-aaaaaaaa").expect("events");
        assert_eq!(
            events
                .iter()
                .map(|e| (e.seq, e.kind.as_str()))
                .collect::<Vec<_>>(),
            [(1, "started"), (2, "succeeded")]
        );
        journal
            .finish_run("20260101-000000-aaaaaaaa", "passed", "{}")
            .expect("finish");
        let runs = journal.runs().expect("runs");
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1].state, "passed");
        assert!(runs[1].finished_at.is_some());
        assert_eq!(
            journal.report("20260101-000000-aaaaaaaa").expect("report"),
            Some("{}".into())
        );
        assert_eq!(
            journal.report("20260102-000000-bbbbbbbb").expect("report"),
            None,
            "still running: no report"
        );
    }

    #[test]
    fn run_ids_sort_by_time_and_differ() {
        let (a, b) = (new_run_id(), new_run_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), "20260101-000000-".len() + 8);
    }
}
