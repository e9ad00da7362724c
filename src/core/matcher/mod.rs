//! The one match language (docs/rules.md), shared by response rules (server)
//! and tunnel routes and filters: a *match* is a list of conditions that
//! must all hold.
//!
//! `method=POST`, `path=/jobs/*` (`*` within a segment, `**` across),
//! `header.NAME=GLOB` (name case-insensitive), `query.NAME=GLOB`,
//! `json:/pointer=VALUE` (RFC 6901; the scalar compared as text),
//! `body~TEXT`, each negated with a leading `!`. Pure: no I/O, so the
//! tunnel client can use it without reaching server code.
//!
//! # Layout
//! Modules depend one way, down this list:
//! - [`glob`]: value and path globs (`*`, `**`), matched in linear time.
//! - [`subject`]: what conditions look at: a request's parts, its JSON parsed once.
//! - [`condition`]: one condition: its grammar and errors, printed back, whether it holds.

mod condition;
mod glob;
mod subject;

pub use condition::Condition;
pub use glob::PathGlob;
pub use subject::Subject;

/// Most conditions in one match.
const MAX_CONDITIONS: usize = 64;

/// All of a list of conditions. Empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match(Vec<Condition>);

impl Match {
    /// Parses each condition, stopping at the first that does not parse;
    /// its error already quotes it (`condition "heder.x=1": ...`).
    pub fn parse<S: AsRef<str>>(conditions: &[S]) -> Result<Self, String> {
        if conditions.len() > MAX_CONDITIONS {
            return Err(format!(
                "at most {MAX_CONDITIONS} conditions (got {})",
                conditions.len()
            ));
        }
        conditions
            .iter()
            .map(|c| Condition::parse(c.as_ref()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// True when every condition holds (so always, when there are none).
    pub fn holds(&self, s: &Subject<'_>) -> bool {
        self.0.iter().all(|c| c.holds(s))
    }

    /// The conditions, in the order written.
    pub fn conditions(&self) -> &[Condition] {
        &self.0
    }

    /// True when there are no conditions (the match holds for anything).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    //! A match is all its conditions; mistakes, limits and their messages.

    use super::condition::FORMS;
    use super::*;
    use crate::core::headers::Header;

    fn h(pairs: &[(&str, &str)]) -> Vec<Header> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_match_needs_all_its_conditions() {
        let headers = h(&[("x-event", "push")]);
        let s = Subject::new("POST", "/hooks/gh", "", &headers, br#"{"ref":"main"}"#);
        let m = Match::parse(&["method=POST", "path=/hooks/*", "json:/ref=main"]).expect("m");
        assert!(m.holds(&s) && m.conditions().len() == 3 && !m.is_empty());
        let m = Match::parse(&["method=POST", "!header.x-event=push"]).expect("m");
        assert!(!m.holds(&s));
        let empty = Match::parse::<&str>(&[]).expect("empty");
        assert!(empty.is_empty() && empty.holds(&s) && empty == Match::default());
    }

    #[test]
    fn mistakes_quote_the_condition_and_say_what_to_write() {
        for (bad, hint) in [
            ("heder.x=1", FORMS),
            ("", "empty"),
            ("  ", "empty"),
            ("!", "! negates"),
            ("!!method=GET", FORMS),
            ("header.X-Event", "needs =GLOB, e.g. header.X-Event=push"),
            ("header.", "header.NAME needs =GLOB"),
            ("header.=1", "not a header name"),
            ("header.a b=1", "not a header name"),
            ("query.event", "needs =GLOB, e.g. query.event=push"),
            ("query.=1", "needs a parameter name"),
            (
                "json:type=x",
                "a JSON pointer starts with \"/\", e.g. json:/type=invoice.paid",
            ),
            ("json:/type", "needs =VALUE"),
            ("body~", "needs the text to find"),
            ("method=", "a method is letters"),
            ("method=P O", "a method is letters"),
            ("method=GET1", "a method is letters"),
            (
                "path=jobs/*",
                "path globs start with \"/\", e.g. path=/jobs/*",
            ),
            ("path=", "path globs start with \"/\""),
        ] {
            let e = Condition::parse(bad).expect_err(bad);
            assert!(e.starts_with(&format!("condition {bad:?}: ")), "{e}");
            assert!(e.contains(hint), "{bad}: {e}");
        }
        let long = format!("body~{}", "x".repeat(5000));
        assert!(
            Condition::parse(&long)
                .expect_err("long")
                .contains("longer than 4096")
        );
        assert!(Condition::parse(&format!("body~{}", "x".repeat(4091))).is_ok());
        let many = vec!["method=GET"; 65];
        assert!(
            Match::parse(&many)
                .expect_err("too many")
                .contains("at most 64 conditions")
        );
        assert!(Match::parse(&vec!["method=GET"; 64]).is_ok());
        let e = Match::parse(&["method=GET", "nope", "heder"]).expect_err("second");
        assert!(e.starts_with("condition \"nope\": "), "{e}");
    }
}
