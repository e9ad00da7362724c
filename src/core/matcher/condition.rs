//! One condition: its grammar (`method=`, `path=`, `header.NAME=`,
//! `query.NAME=`, `json:/pointer=`, `body~`, `!` to negate), errors that
//! say what to write instead, printing back as written, and whether it
//! holds for a subject.

use std::fmt;

use crate::core::matcher::glob::{Glob, PathGlob};
use crate::core::matcher::subject::{Subject, scalar_text};

/// Longest condition accepted, in bytes.
const MAX_CONDITION: usize = 4096;

/// The forms, for errors about a condition that is none of them.
pub(super) const FORMS: &str = "use method=, path=, header.NAME=, query.NAME=, json:/pointer=, body~TEXT, schema=valid|invalid (prefix ! to negate)";

/// One parsed condition. [`fmt::Display`] prints it back in its source
/// form, so `Condition::parse(&c.to_string()) == Ok(c)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    negated: bool,
    test: Test,
}

/// What a condition tests, before negation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    /// The method, compared without ASCII case.
    Method(String),
    /// The raw sub-path against a path glob.
    Path(PathGlob),
    /// Any header of that name (without case) with a value matching.
    Header(String, Glob),
    /// Any query parameter of that decoded name with a value matching.
    Query(String, Glob),
    /// The scalar at a JSON pointer, as text, equal to the value.
    Json(String, String),
    /// The raw body contains the text's bytes.
    Body(String),
    /// The bin's payload schema verdict: `true` for `schema=valid`.
    Schema(bool),
}

impl Condition {
    /// Parses one condition. Errors start with the condition quoted
    /// (`condition "heder.x=1": `) and say what to write instead.
    pub fn parse(text: &str) -> Result<Self, String> {
        let fail = |why: &str| format!("condition {text:?}: {why}");
        if text.trim().is_empty() {
            return Err(fail(&format!("empty; {FORMS}")));
        }
        if text.len() > MAX_CONDITION {
            return Err(fail(&format!(
                "longer than {MAX_CONDITION} bytes; match on a shorter part"
            )));
        }
        let (negated, rest) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if rest.is_empty() {
            return Err(fail(&format!(
                "! negates the condition that follows it, e.g. !method=GET; {FORMS}"
            )));
        }
        let test = if let Some(m) = rest.strip_prefix("method=") {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
                return Err(fail("a method is letters, e.g. method=POST"));
            }
            Test::Method(m.to_owned())
        } else if let Some(p) = rest.strip_prefix("path=") {
            Test::Path(PathGlob::parse(p).map_err(|e| fail(&e))?)
        } else if let Some(h) = rest.strip_prefix("header.") {
            let Some((name, glob)) = h.split_once('=') else {
                return Err(fail(&needs_glob("header", h, "X-Event", "push")));
            };
            if name.is_empty() || !name.bytes().all(is_token) {
                return Err(fail(&format!(
                    "{name:?} is not a header name (letters, digits and !#$%&'*+-.^_`|~), \
                     e.g. header.X-Event=push"
                )));
            }
            Test::Header(name.to_owned(), Glob::new(glob))
        } else if let Some(q) = rest.strip_prefix("query.") {
            let Some((name, glob)) = q.split_once('=') else {
                return Err(fail(&needs_glob("query", q, "event", "push")));
            };
            if name.is_empty() {
                return Err(fail("query. needs a parameter name, e.g. query.event=push"));
            }
            Test::Query(name.to_owned(), Glob::new(glob))
        } else if let Some(j) = rest.strip_prefix("json:") {
            // The pointer ends at the first `=`: RFC 6901 has no escape
            // for `=`, and values often contain one.
            let Some((pointer, value)) = j.split_once('=') else {
                return Err(fail(
                    "json:POINTER needs =VALUE, e.g. json:/type=invoice.paid",
                ));
            };
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(fail(
                    "a JSON pointer starts with \"/\", e.g. json:/type=invoice.paid",
                ));
            }
            Test::Json(pointer.to_owned(), value.to_owned())
        } else if let Some(b) = rest.strip_prefix("body~") {
            if b.is_empty() {
                return Err(fail("body~ needs the text to find, e.g. body~completed"));
            }
            Test::Body(b.to_owned())
        } else if let Some(v) = rest.strip_prefix("schema=") {
            match v {
                "valid" => Test::Schema(true),
                "invalid" => Test::Schema(false),
                _ => return Err(fail("schema= is valid or invalid, e.g. schema=invalid")),
            }
        } else {
            return Err(fail(&format!("not understood; {FORMS}")));
        };
        Ok(Self { negated, test })
    }

    /// True when the condition holds for `s` (negation applied: a
    /// negated condition on a missing header or JSON value holds).
    pub fn holds(&self, s: &Subject<'_>) -> bool {
        let found = match &self.test {
            Test::Method(m) => s.method.eq_ignore_ascii_case(m),
            Test::Path(g) => g.matches(s.path),
            Test::Header(name, glob) => s
                .headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(name) && glob.matches(v)),
            Test::Query(name, glob) => s.query_values(name).any(|v| glob.matches(&v)),
            Test::Json(pointer, value) => s
                .json()
                .and_then(|j| j.pointer(pointer))
                .and_then(scalar_text)
                .is_some_and(|t| t == *value),
            Test::Body(text) => contains(s.body, text.as_bytes()),
            // No verdict (no schema applies, or not checked yet) is
            // neither valid nor invalid: `schema=valid` and
            // `schema=invalid` both fail, their negations both hold.
            Test::Schema(valid) => s.schema == Some(*valid),
        };
        found != self.negated
    }

    /// True when it looks at the JSON body (lets callers skip parsing).
    pub fn reads_json(&self) -> bool {
        matches!(self.test, Test::Json(..))
    }
}

/// The error for `header.`/`query.` without `=`, with an example that
/// uses the name written when there is one.
fn needs_glob(kind: &str, written: &str, example: &str, value: &str) -> String {
    if written.is_empty() {
        format!("{kind}.NAME needs =GLOB, e.g. {kind}.{example}={value}")
    } else {
        format!("{kind}.{written} needs =GLOB, e.g. {kind}.{written}={value}")
    }
}

impl std::str::FromStr for Condition {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("!")?;
        }
        match &self.test {
            Test::Method(m) => write!(f, "method={m}"),
            Test::Path(g) => write!(f, "path={g}"),
            Test::Header(n, g) => write!(f, "header.{n}={g}"),
            Test::Query(n, g) => write!(f, "query.{n}={g}"),
            Test::Json(p, v) => write!(f, "json:{p}={v}"),
            Test::Body(t) => write!(f, "body~{t}"),
            Test::Schema(true) => f.write_str("schema=valid"),
            Test::Schema(false) => f.write_str("schema=invalid"),
        }
    }
}

/// A header name character (RFC 9110 token).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// True when `needle` occurs in `haystack` (bodies need not be UTF-8).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    // memchr's two-way search: linear in the body, whatever the needle.
    memchr::memmem::find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    //! Every condition and its negation, JSON pointers with escapes,
    //! printing back, worst cases in linear time; the parser under proptest.

    use super::*;
    use crate::core::headers::Header;

    fn h(pairs: &[(&str, &str)]) -> Vec<Header> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn holds(cond: &str, s: &Subject<'_>) -> bool {
        Condition::parse(cond)
            .unwrap_or_else(|e| panic!("{e}"))
            .holds(s)
    }

    /// Asserts `cond` holds and `!cond` does not (or the reverse).
    fn check(cond: &str, s: &Subject<'_>, expected: bool) {
        assert_eq!(holds(cond, s), expected, "{cond}");
        assert_eq!(holds(&format!("!{cond}"), s), !expected, "!{cond}");
    }

    #[test]
    fn method_compares_without_case() {
        let s = Subject::new("POST", "/", "", &[], b"");
        check("method=POST", &s, true);
        check("method=post", &s, true);
        check("method=GET", &s, false);
        check(
            "method=M-SEARCH",
            &Subject::new("m-search", "/", "", &[], b""),
            true,
        );
        assert_eq!((s.method(), s.path()), ("POST", "/"));
    }

    #[test]
    fn path_star_stays_within_a_segment_and_double_star_crosses() {
        let s = Subject::new("POST", "/jobs/42/done", "", &[], b"");
        check("path=/jobs/*/done", &s, true);
        check("path=/jobs/**", &s, true);
        check("path=/**", &s, true);
        check("path=/jobs/*", &s, false);
        check("path=/jobs/4*", &s, false);
        check("path=/jobs/4*/d*e", &s, true);
        check("path=/jobs/42/done/", &s, false);
    }

    #[test]
    fn headers_match_any_duplicate_without_case_in_the_name() {
        let headers = h(&[
            ("content-type", "application/json"),
            ("X-Event", "push"),
            ("x-event", "ping"),
        ]);
        let s = Subject::new("POST", "/", "", &headers, b"");
        check("header.x-event=push", &s, true);
        check("header.X-EVENT=ping", &s, true);
        check("header.x-event=PUSH", &s, false);
        check("header.content-type=application/*", &s, true);
        check("header.content-type=*json", &s, true);
        check("header.content-type=**", &s, true);
        check("header.content-type=application", &s, false);
        check("header.x-event=*", &s, true);
        check("header.x-missing=*", &s, false);
        assert_eq!(s.header("X-EVENT"), Some("push"));
        assert_eq!(s.header("x-missing"), None);
    }

    #[test]
    fn query_values_are_form_decoded_and_any_repeat_matches() {
        let s = Subject::new("GET", "/", "a=1&who=a%20b&x=y+z&a=2&e=", &[], b"");
        check("query.a=1", &s, true);
        check("query.a=2", &s, true);
        check("query.a=3", &s, false);
        check("query.who=a b", &s, true);
        check("query.who=a%20b", &s, false);
        check("query.x=y z", &s, true);
        check("query.e=", &s, true);
        check("query.b=*", &s, false);
        assert_eq!(s.query_value("a").as_deref(), Some("1"));
        assert_eq!(s.query_value("who").as_deref(), Some("a b"));
        assert_eq!(s.query_value("b"), None);
        let spaced = Subject::new("GET", "/", "a%20b=1", &[], b"");
        check("query.a b=1", &spaced, true);
    }

    #[test]
    fn body_contains_bytes_even_in_binary_bodies() {
        let s = Subject::new("POST", "/", "", &[], b"\x00bin completed\xff\xfe");
        check("body~completed", &s, true);
        check("body~Completed", &s, false);
        check("body~ completed", &s, true);
        check("body~missing", &s, false);
        let short = Subject::new("POST", "/", "", &[], b"ab");
        check("body~abc", &short, false);
        check(
            "body~é",
            &Subject::new("POST", "/", "", &[], "café".as_bytes()),
            true,
        );
    }

    #[test]
    fn json_pointers_with_escapes_arrays_and_scalars() {
        let body = br#"{"a/b":"slash","m~n":"tilde","items":[{"id":"i1"}],"n":1.50,
            "big":123456789012345678901234567890,"ok":true,"no":false,"none":null,
            "o":{"k":1},"arr":[1],"e":"","q":"say \"hi\"\n"}"#;
        let s = Subject::new("POST", "/", "", &[], body);
        check("json:/a~1b=slash", &s, true);
        check("json:/m~0n=tilde", &s, true);
        check("json:/items/0/id=i1", &s, true);
        check("json:/items/1/id=i1", &s, false);
        check("json:/n=1.50", &s, true);
        check("json:/n=1.5", &s, false);
        check("json:/big=123456789012345678901234567890", &s, true);
        check("json:/ok=true", &s, true);
        check("json:/no=false", &s, true);
        check("json:/none=null", &s, true);
        check("json:/e=", &s, true);
        check("json:/q=say \"hi\"\n", &s, true);
        check("json:/o={\"k\":1}", &s, false);
        check("json:/arr=[1]", &s, false);
        check("json:/missing=x", &s, false);
        check("json:=x", &s, false);
        assert_eq!(s.json_text("/o").as_deref(), Some(r#"{"k":1}"#));
        assert_eq!(s.json_text("/n").as_deref(), Some("1.50"));
        assert_eq!(s.json_text("/q").as_deref(), Some("say \"hi\"\n"));
        assert_eq!(s.json_text("/none").as_deref(), Some("null"));
        assert_eq!(s.json_text("/missing"), None);
        assert!(s.json().is_some_and(serde_json::Value::is_object));
        let scalar = Subject::new("POST", "/", "", &[], b" \"whole\" ");
        check("json:=whole", &scalar, true);
        check("json:=5", &Subject::new("POST", "/", "", &[], b"5"), true);
        let not_json = Subject::new("POST", "/", "", &[], b"job_id=1");
        check("json:/job_id=1", &not_json, false);
        assert!(not_json.json().is_none() && not_json.json_text("").is_none());
        let eq = Subject::new("POST", "/", "", &[], br#"{"a":"b=c"}"#);
        check("json:/a=b=c", &eq, true);
    }

    #[test]
    fn only_json_conditions_read_json() {
        for (c, reads) in [("json:/a=1", true), ("!json:=1", true), ("body~{", false)] {
            assert_eq!(Condition::parse(c).expect(c).reads_json(), reads, "{c}");
        }
    }

    #[test]
    fn conditions_print_back_as_written() {
        for c in [
            "method=POST",
            "!path=/stripe/**",
            "header.X-Event=*",
            "query.a b=x y",
            "json:=x",
            "!json:/a~1b=c=d",
            "body~ spaced ",
        ] {
            let parsed: Condition = c.parse().expect(c);
            assert_eq!(parsed.to_string(), c);
            assert_eq!(Condition::parse(&parsed.to_string()), Ok(parsed));
        }
        assert_eq!(PathGlob::parse("/a/*").expect("glob").to_string(), "/a/*");
    }

    #[test]
    fn globs_never_go_exponential() {
        let text = "a".repeat(10_000);
        let started = std::time::Instant::now();
        assert!(!Glob::new("*a*a*a*a*a*a*a*b").matches(&text));
        assert!(
            !PathGlob::parse("/**a**a**a**a**a**b")
                .expect("glob")
                .matches(&format!("/{text}"))
        );
        assert!(
            !PathGlob::parse("/*a*a*a*a*a*a*b")
                .expect("glob")
                .matches(&format!("/{text}"))
        );
        let s = Subject::new("GET", "/", "", &[], text.as_bytes());
        assert!(!holds(&format!("body~{}b", "a".repeat(4000)), &s));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        /// Valid conditions, as written, from small alphabets so that
        /// random subjects match them often enough to be interesting.
        fn condition() -> impl Strategy<Value = String> {
            let value = "[ab/.*=-]{0,6}";
            prop_oneof![
                "[A-Za-z-]{1,8}".prop_map(|m| format!("method={m}")),
                "(GET|POST|get)".prop_map(|m| format!("method={m}")),
                "/[ab/*.]{0,8}".prop_map(|p| format!("path={p}")),
                ("(x|X|y|[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,8})", value)
                    .prop_map(|(n, v)| format!("header.{n}={v}")),
                ("(a|b|[a-z0-9 %+.]{1,8})", value).prop_map(|(n, v)| format!("query.{n}={v}")),
                ("(/[ab~0-9]{0,3}){0,3}", "[ab0-9./=_-]{0,6}")
                    .prop_map(|(p, v)| format!("json:{p}={v}")),
                "[ -~]{1,6}".prop_map(|t| format!("body~{t}")),
            ]
            .prop_flat_map(|c| (Just(c), any::<bool>()))
            .prop_map(|(c, neg)| if neg { format!("!{c}") } else { c })
        }

        proptest! {
            #[test]
            fn parsing_never_panics(text in any::<String>()) {
                let _ = Condition::parse(&text);
                let _ = Condition::parse(&format!("!{text}"));
            }

            #[test]
            fn parsing_prefixed_garbage_never_panics(
                kind in "!?(method=|path=|header\\.|query\\.|json:|body~)",
                rest in any::<String>(),
            ) {
                if let Ok(c) = Condition::parse(&format!("{kind}{rest}")) {
                    prop_assert_eq!(Condition::parse(&c.to_string()), Ok(c));
                }
            }

            #[test]
            fn valid_conditions_print_back(text in condition()) {
                let c = Condition::parse(&text).expect("valid");
                prop_assert_eq!(c.to_string(), text.clone());
                prop_assert_eq!(Condition::parse(&c.to_string()).expect("again"), c);
            }

            #[test]
            fn negation_inverts(
                text in condition(),
                method in "(GET|POST|put)",
                path in "/[ab/.]{0,8}",
                query in "[ab=&+%0-9 ]{0,12}",
                headers in proptest::collection::vec(("(x|X|y)", "[ab/.=-]{0,4}"), 0..3),
                body in "(\\{\"a\":\"[ab]{0,2}\"\\}|[ -~]{0,20})",
            ) {
                let c = Condition::parse(&text).expect("valid");
                let flipped = match text.strip_prefix('!') {
                    Some(rest) => rest.to_owned(),
                    None => format!("!{text}"),
                };
                let n = Condition::parse(&flipped).expect("valid");
                let s = Subject::new(&method, &path, &query, &headers, body.as_bytes());
                prop_assert_ne!(c.holds(&s), n.holds(&s));
            }
        }
    }
}
