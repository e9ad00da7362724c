//! "Could not reach URL", in words, naming the URL and the fix: one place
//! for what a failed connection means to the person who typed the command
//! — a hookwire server that is down, an app that is not listening, a TLS
//! problem (see [`crate::core::tls::in_words`]).

use std::error::Error;

use tokio_rustls::rustls;

/// Why a connection gave no answer.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Nothing listens there (connection refused).
    Refused,
    /// TLS failed; the words say what to do.
    Tls(String),
    /// Something else (reset, name lookup, cut off), as the innermost
    /// error says it.
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused => f.write_str("connection refused"),
            Failure::Tls(words) | Failure::Other(words) => f.write_str(words),
        }
    }
}

impl Failure {
    /// What `err`, met connecting to `url`, comes to. The chain is walked
    /// into `io::Error`s by hand: their `source()` skips the error they
    /// wrap, which is where rustls puts its own.
    pub fn of(err: &(dyn Error + 'static), url: &str) -> Self {
        let mut next = Some(err);
        let mut innermost = err.to_string();
        while let Some(e) = next {
            if let Some(tls) = e.downcast_ref::<rustls::Error>() {
                return Failure::Tls(crate::core::tls::in_words(tls, url));
            }
            innermost = e.to_string();
            next = e.source();
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return Failure::Refused;
                }
                if let Some(inner) = io.get_ref() {
                    next = Some(inner as &(dyn Error + 'static));
                }
            }
        }
        Failure::Other(innermost)
    }
}

/// A hookwire server at `url` could not be reached.
pub fn server(url: &str, why: &Failure) -> String {
    match why {
        // The words name the URL already.
        Failure::Tls(words) => words.clone(),
        _ => format!(
            "cannot reach the server at {url}: {why} — is `hookwire serve` running there? \
             (--server / the URL you gave)"
        ),
    }
}

/// The app at `url` (a `--to`) could not be reached.
pub fn app(url: &str, why: &Failure) -> String {
    match why {
        Failure::Refused => format!(
            "nothing is listening on {url} (connection refused): start your app, or check --to"
        ),
        Failure::Tls(words) => words.clone(),
        Failure::Other(words) => {
            format!("{url} did not answer ({words}): check that your app runs there, or --to")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_found_inside_other_errors() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let wrapped = std::io::Error::other(refused);
        assert!(matches!(
            Failure::of(&wrapped, "http://x"),
            Failure::Refused
        ));
        let tls = std::io::Error::other(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        let Failure::Tls(words) = Failure::of(&tls, "https://h:1") else {
            panic!("not a TLS failure");
        };
        assert!(words.contains("use http://h:1"), "{words}");
    }

    #[test]
    fn messages_name_the_url_and_the_fix() {
        let m = app("http://localhost:3000", &Failure::Refused);
        assert_eq!(
            m,
            "nothing is listening on http://localhost:3000 (connection refused): start your \
             app, or check --to"
        );
        let m = server("http://127.0.0.1:8080", &Failure::Refused);
        assert!(m.starts_with("cannot reach the server at http://127.0.0.1:8080: connection refused — is `hookwire serve` running there?"), "{m}");
    }
}
