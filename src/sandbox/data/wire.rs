//! One RDS instance's endpoint: a loopback listener that speaks the start of PostgreSQL's wire
//! protocol and hands each connection to the sandbox's server with the instance's own database
//! in its startup message, whatever database the client asked for.
//!
//! Rules: an `SSLRequest` is answered `S` and TLS is spoken with the sandbox's certificate
//! (`authority.rs`) when there is one, else `N`, as a server without TLS answers; a
//! `GSSENCRequest` is answered `N`; a cancel request goes to the server as it is; an endpoint whose instance has no data
//! answers every connection with a FATAL error that says why, so a probe fails with the reason.
//! After the startup message the bytes flow both ways untouched.
//!
//! It knows nothing of RDS or of which databases exist: `data/mod.rs` says where to go.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;
const PROTOCOL_3: u32 = 196_608;
/// How long a client may take to say who it is.
const STARTUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where an endpoint's connections go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// To `database` on the server at `server`.
    Database {
        /// The server.
        server: SocketAddr,
        /// The instance's database.
        database: String,
    },
    /// Nowhere: every connection is told this.
    Refuse(String),
}

/// A listening endpoint; stops listening when dropped (connections already handed over go on
/// until the server ends them).
pub struct Endpoint {
    task: JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Listens on `listener`, sending every connection along `route`, with TLS through `tls` when
/// a client asks for it.
pub fn serve(
    listener: TcpListener,
    route: Route,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Endpoint {
    let route = Arc::new(route);
    let task = tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            let _ = client.set_nodelay(true);
            let (route, tls) = (route.clone(), tls.clone());
            tokio::spawn(async move {
                let _ = connection(client, &route, tls).await;
            });
        }
    });
    Endpoint { task }
}

async fn connection(
    mut client: TcpStream,
    route: &Route,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    loop {
        // A client that says nothing for half a minute is let go.
        let message = tokio::time::timeout(STARTUP_TIMEOUT, read_startup(&mut client))
            .await
            .map_err(|_| std::io::Error::other("no startup message"))??;
        match (code(&message), &tls) {
            (SSL_REQUEST, Some(acceptor)) => {
                client.write_all(b"S").await?;
                let mut secure = tokio::time::timeout(STARTUP_TIMEOUT, acceptor.accept(client))
                    .await
                    .map_err(|_| std::io::Error::other("no TLS handshake"))??;
                let message = tokio::time::timeout(STARTUP_TIMEOUT, read_startup(&mut secure))
                    .await
                    .map_err(|_| std::io::Error::other("no startup message"))??;
                return startup(secure, message, route).await;
            }
            (SSL_REQUEST | GSSENC_REQUEST, _) => client.write_all(b"N").await?,
            _ => return startup(client, message, route).await,
        }
    }
}

fn code(message: &[u8]) -> u32 {
    u32::from_be_bytes([message[0], message[1], message[2], message[3]])
}

/// The startup message (or cancel request) `message` from `client`, then the session.
async fn startup<S>(mut client: S, message: Vec<u8>, route: &Route) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Protocol 3.x: the server behind negotiates the minor version.
    let code = match code(&message) {
        c if c >> 16 == 3 => PROTOCOL_3,
        c => c,
    };
    match code {
        CANCEL_REQUEST => {
            if let Route::Database { server, .. } = route {
                let mut upstream = TcpStream::connect(server).await?;
                upstream.write_all(&framed(&message)).await?;
            }
            Ok(())
        }
        PROTOCOL_3 => match route {
            Route::Refuse(reason) => {
                client.write_all(&fatal(reason)).await?;
                client.shutdown().await
            }
            Route::Database { server, database } => {
                let Ok(mut upstream) = TcpStream::connect(server).await else {
                    client
                        .write_all(&fatal("the sandbox's PostgreSQL server is not running"))
                        .await?;
                    return client.shutdown().await;
                };
                let _ = upstream.set_nodelay(true);
                upstream
                    .write_all(&framed(&with_database(&message, database)))
                    .await?;
                tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
                Ok(())
            }
        },
        other => {
            client
                .write_all(&fatal(&format!("unsupported protocol {other}")))
                .await?;
            client.shutdown().await
        }
    }
}

/// A startup-phase message without its length word.
async fn read_startup<S: AsyncRead + Unpin>(client: &mut S) -> std::io::Result<Vec<u8>> {
    let len = client.read_u32().await?;
    if !(8..=10_000).contains(&len) {
        return Err(std::io::Error::other("not a startup message"));
    }
    let mut body = vec![0; len as usize - 4];
    client.read_exact(&mut body).await?;
    Ok(body)
}

fn framed(body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// The startup message `body` (protocol word, then name and value pairs) with `database` set.
fn with_database(body: &[u8], database: &str) -> Vec<u8> {
    let mut fields = body[4..].split(|b| *b == 0).collect::<Vec<_>>();
    // The list ends with an empty name; split leaves empty pieces after it.
    while fields.last().is_some_and(|f| f.is_empty()) {
        fields.pop();
    }
    let mut out = body[..4].to_vec();
    let mut set = false;
    for pair in fields.chunks(2) {
        let (name, value) = (pair[0], pair.get(1).copied().unwrap_or_default());
        out.extend_from_slice(name);
        out.push(0);
        if name == b"database" {
            out.extend_from_slice(database.as_bytes());
            set = true;
        } else {
            out.extend_from_slice(value);
        }
        out.push(0);
    }
    if !set {
        out.extend_from_slice(b"database\0");
        out.extend_from_slice(database.as_bytes());
        out.push(0);
    }
    out.push(0);
    out
}

/// An `ErrorResponse` of severity FATAL saying `message` (SQLSTATE 08001: the client could not
/// establish the connection).
fn fatal(message: &str) -> Vec<u8> {
    let mut fields = Vec::new();
    for (code, text) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "08001"),
        (b'M', message),
    ] {
        fields.push(code);
        fields.extend_from_slice(text.replace('\0', " ").as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut out = vec![b'E'];
    out.extend_from_slice(&framed(&fields));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn startup(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut body = PROTOCOL_3.to_be_bytes().to_vec();
        for (k, v) in pairs {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        body
    }

    #[test]
    fn the_database_asked_for_is_replaced_or_added() {
        assert_eq!(
            with_database(&startup(&[("user", "shop"), ("database", "other")]), "i_db"),
            startup(&[("user", "shop"), ("database", "i_db")])
        );
        assert_eq!(
            with_database(
                &startup(&[("user", "shop"), ("application_name", "")]),
                "i_db"
            ),
            startup(&[
                ("user", "shop"),
                ("application_name", ""),
                ("database", "i_db")
            ])
        );
    }

    #[test]
    fn a_fatal_error_is_one_framed_message() {
        let e = fatal("no data");
        assert_eq!(e[0], b'E');
        let len = u32::from_be_bytes([e[1], e[2], e[3], e[4]]) as usize;
        assert_eq!(len + 1, e.len());
        assert!(e.ends_with(b"Mno data\0\0"));
    }
}
