//! What an output stream may carry. Colour and other escape sequences go
//! only to a person at a terminal: never into a file or a pipe a script
//! reads, and never when `NO_COLOR` is set (<https://no-color.org>).
//! Progress that rewrites a line goes only to a terminal.

use std::io::IsTerminal as _;

/// One of the process's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// True when the stream is a terminal (a person reads it live).
    pub fn is_terminal(self) -> bool {
        match self {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        }
    }

    /// True when colour codes may be written to the stream.
    pub fn colour(self) -> bool {
        self.is_terminal() && !no_color()
    }
}

/// True when `NO_COLOR` is set to anything but the empty string, as the
/// convention says.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}
