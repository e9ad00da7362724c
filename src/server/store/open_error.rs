//! "Cannot open the database", in words: which file or server, why, and
//! what to do — said once (the error chain of SQLite repeats "unable to
//! open database file" at every layer), before the server says it listens.

use std::error::Error;
use std::path::Path;

use super::StoreError;
use crate::server::config::Database;

/// What to tell the person who ran `serve --db …` when `err` kept `db`
/// from opening.
pub fn in_words(db: &Database, err: &StoreError) -> String {
    let cause = innermost(err);
    match db {
        Database::Sqlite(path) => sqlite(path, &cause),
        Database::Postgres(url) => {
            let at = host_port(url);
            if !tls(err) && unreachable(err) {
                format!(
                    "cannot reach PostgreSQL at {at} (--db {db}): {cause} — check that \
                     PostgreSQL runs there and that the URL's host and port are right"
                )
            } else {
                format!(
                    "cannot open the database {db} (--db): {cause} (a server whose certificate \
                     comes from a private CA needs it passed with --db-ca-cert)"
                )
            }
        }
    }
}

fn sqlite(path: &Path, cause: &str) -> String {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.exists() {
        format!(
            "cannot open the database {}: the directory {} does not exist — create it or pass \
             another --db",
            path.display(),
            dir.display()
        )
    } else if path.is_dir() {
        format!(
            "cannot open the database {}: it is a directory — pass a file path with --db",
            path.display()
        )
    } else {
        format!(
            "cannot open the database {}: {cause} — check that the directory {} is writable, \
             or pass another --db",
            path.display(),
            dir.display()
        )
    }
}

/// The last error of the chain: the one that says what happened.
fn innermost(err: &StoreError) -> String {
    chain(err)
        .last()
        .map_or_else(|| err.to_string(), |e| e.to_string())
}

/// The chain, into the errors `io::Error`s wrap (their `source()` skips
/// them).
fn chain(err: &StoreError) -> Vec<&(dyn Error + 'static)> {
    let mut all = Vec::new();
    let mut next: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = next {
        all.push(e);
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => e.source(),
        };
    }
    all
}

/// TLS with PostgreSQL failed (a certificate it does not trust, say).
fn tls(err: &StoreError) -> bool {
    chain(err)
        .iter()
        .any(|e| e.downcast_ref::<tokio_rustls::rustls::Error>().is_some())
}

/// The connection itself failed (nothing listening, no route, no such
/// host), as opposed to PostgreSQL refusing the login or the database.
fn unreachable(err: &StoreError) -> bool {
    matches!(err, StoreError::Pool(_))
        || chain(err)
            .iter()
            .any(|e| e.downcast_ref::<std::io::Error>().is_some())
}

/// `host:port` of a PostgreSQL URL, without its user or password.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        "localhost:5432".into()
    } else if host.contains(':') && !host.ends_with(']') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_named_once() {
        let db = Database::parse("/nonexistent/dir/x.db");
        let err = StoreError::Thread("unable to open database file".into());
        assert_eq!(
            in_words(&db, &err),
            "cannot open the database /nonexistent/dir/x.db: the directory /nonexistent/dir \
             does not exist — create it or pass another --db"
        );
    }

    #[test]
    fn postgres_hosts_are_named_without_the_password() {
        assert_eq!(
            host_port("postgres://u:secret@db.internal:5433/h"),
            "db.internal:5433"
        );
        assert_eq!(host_port("postgresql://u@db/h?sslmode=require"), "db:5432");
        assert_eq!(host_port("postgres:///h"), "localhost:5432");
    }
}
