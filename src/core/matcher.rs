//! The one match language (SPEC §10), shared by response rules (server)
//! and tunnel routes and filters: a *match* is a list of conditions that
//! must all hold.
//!
//! `method=POST`, `path=/jobs/*` (`*` within a segment, `**` across),
//! `header.NAME=GLOB` (name case-insensitive), `query.NAME=GLOB`,
//! `json:/pointer=VALUE` (RFC 6901; the scalar compared as text),
//! `body~TEXT`, each negated with a leading `!`. Pure: no I/O, so the
//! tunnel client can use it without reaching server code.

use std::cell::OnceCell;
use std::fmt;

use crate::core::headers::Header;

/// Longest condition accepted, in bytes.
const MAX_CONDITION: usize = 4096;

/// Most conditions in one match.
const MAX_CONDITIONS: usize = 64;

/// The forms, for errors about a condition that is none of them.
const FORMS: &str =
    "use method=, path=, header.NAME=, query.NAME=, json:/pointer=, body~TEXT (prefix ! to negate)";

/// What conditions look at: a request's parts, borrowed. The JSON body is
/// parsed at most once, on first use.
pub struct Subject<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &'a [Header],
    body: &'a [u8],
    // Lazily: most matches never look at the body, and parsing is the
    // one costly part of matching.
    json: OnceCell<Option<serde_json::Value>>,
}

impl<'a> Subject<'a> {
    /// A request's parts: its method, raw sub-path (starting with `/`),
    /// raw query (without `?`), headers and body.
    pub fn new(
        method: &'a str,
        path: &'a str,
        query: &'a str,
        headers: &'a [Header],
        body: &'a [u8],
    ) -> Self {
        Self {
            method,
            path,
            query,
            headers,
            body,
            json: OnceCell::new(),
        }
    }

    /// The request method, as sent.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The raw sub-path, as stored (e.g. `/jobs/42`).
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// First value of query parameter `name` (form-decoded: `%XX` and `+`
    /// as space), if any.
    pub fn query_value(&self, name: &str) -> Option<String> {
        self.query_values(name).next()
    }

    /// Every value of query parameter `name`, form-decoded, in order.
    fn query_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = String> + 's {
        form_urlencoded::parse(self.query.as_bytes())
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// First header named `name`, compared without case.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        crate::core::headers::get(self.headers, name)
    }

    /// The body parsed as JSON (any JSON value), `None` when it is not
    /// JSON. Parsed once, on first use.
    pub fn json(&self) -> Option<&serde_json::Value> {
        self.json
            .get_or_init(|| serde_json::from_slice(self.body).ok())
            .as_ref()
    }

    /// The body as parsed so far (`None`: not looked at yet), to hand to a
    /// later subject of the same request with [`Self::with_parsed`].
    pub fn into_parsed(self) -> Option<Option<serde_json::Value>> {
        self.json.into_inner()
    }

    /// This subject with the body as an earlier subject of the same request
    /// parsed it: a body is parsed once, however often it is looked at.
    pub fn with_parsed(self, parsed: Option<Option<serde_json::Value>>) -> Self {
        if let Some(json) = parsed {
            let _ = self.json.set(json);
        }
        self
    }

    /// The value at RFC 6901 `pointer` in the JSON body, as text: a
    /// string's content, a number's text as sent, `true`/`false`, `null`;
    /// an object or array as compact JSON. `None` when absent or not JSON.
    pub fn json_text(&self, pointer: &str) -> Option<String> {
        let v = self.json()?.pointer(pointer)?;
        Some(scalar_text(v).unwrap_or_else(|| v.to_string()))
    }
}

/// A scalar's text as conditions compare it; `None` for objects and
/// arrays. Numbers keep their text as sent (serde_json's
/// `arbitrary_precision`), so `1.50` stays `1.50`.
fn scalar_text(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".to_owned()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

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
            Test::Header(n, g) => write!(f, "header.{n}={}", g.0),
            Test::Query(n, g) => write!(f, "query.{n}={}", g.0),
            Test::Json(p, v) => write!(f, "json:{p}={v}"),
            Test::Body(t) => write!(f, "body~{t}"),
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

/// A header or query value glob: `*` matches any run of characters,
/// `/` included (`**` is the same); the rest is literal, case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob(String);

impl Glob {
    fn new(text: &str) -> Self {
        Self(text.to_owned())
    }

    fn matches(&self, text: &str) -> bool {
        let tokens = self.0.bytes().map(|b| match b {
            b'*' => Token::Across,
            b => Token::Byte(b),
        });
        wildcard(tokens, text.as_bytes())
    }
}

/// A path glob: `*` matches within one segment (no `/`), `**` matches
/// across segments (any characters, `/` included). A trailing `/**` also
/// matches the bare prefix (`/stripe/**` matches `/stripe`, `/stripe/`,
/// `/stripe/a/b`). Every other character is literal. Displays as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGlob(String);

impl PathGlob {
    /// Parses a glob, which starts with `/` as sub-paths do.
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err(format!(
                "path globs start with \"/\", e.g. path=/jobs/* (got {text:?})"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// True when `path` (a raw sub-path) matches.
    pub fn matches(&self, path: &str) -> bool {
        if let Some(prefix) = self.0.strip_suffix("/**")
            && path_glob(prefix, path)
        {
            return true;
        }
        path_glob(&self.0, path)
    }
}

impl fmt::Display for PathGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One step of a glob.
#[derive(Clone, Copy)]
enum Token {
    /// This byte, literally.
    Byte(u8),
    /// Any run of bytes but `/`.
    Within,
    /// Any run of bytes.
    Across,
}

/// `pattern` against `text`, `**` across segments, `*` within one.
fn path_glob(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let mut tokens = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'*' {
            let across = p.get(i + 1) == Some(&b'*');
            tokens.push(if across { Token::Across } else { Token::Within });
            i += if across { 2 } else { 1 };
        } else {
            tokens.push(Token::Byte(p[i]));
            i += 1;
        }
    }
    wildcard(tokens, text.as_bytes())
}

/// Glob matching by dynamic programming over text positions, one token at
/// a time: linear memory and `O(pattern × text)` time, so hostile globs
/// (`*a*a*a*b`) cannot make it exponential as naive backtracking would.
/// Bytes, not chars: a star's run over UTF-8 is still whole characters,
/// because literal bytes around it are.
fn wildcard(pattern: impl IntoIterator<Item = Token>, text: &[u8]) -> bool {
    // can[j]: the tokens so far match text[..j].
    let mut can = vec![false; text.len() + 1];
    can[0] = true;
    for token in pattern {
        match token {
            Token::Byte(p) => {
                for j in (1..=text.len()).rev() {
                    can[j] = can[j - 1] && text[j - 1] == p;
                }
                can[0] = false;
            }
            Token::Within | Token::Across => {
                let across = matches!(token, Token::Across);
                for j in 1..=text.len() {
                    can[j] = can[j] || (can[j - 1] && (across || text[j - 1] != b'/'));
                }
            }
        }
        // Nothing can match any more: stop early.
        if !can.contains(&true) {
            return false;
        }
    }
    can[text.len()]
}

#[cfg(test)]
mod tests {
    //! Every condition and its negation, globs, JSON pointers with
    //! escapes, mistakes and their messages; the parser under proptest.

    use super::*;

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
    fn globs_are_literal_but_for_stars() {
        let g = PathGlob::parse("/stripe/**").expect("glob");
        for p in ["/stripe", "/stripe/", "/stripe/evt", "/stripe/a/b"] {
            assert!(g.matches(p), "{p}");
        }
        assert!(!g.matches("/stripes") && !g.matches("/") && !g.matches("/strip"));
        let g = PathGlob::parse("/a.b?[c]/*.json").expect("glob");
        assert!(g.matches("/a.b?[c]/x.json"));
        assert!(!g.matches("/aXb?[c]/x.json") && !g.matches("/a.b?[c]/x/y.json"));
        assert!(!g.matches("/a.bX[c]/x.json") && !g.matches("/a.b?c/x.json"));
        let g = PathGlob::parse("/x/**/end").expect("glob");
        assert!(g.matches("/x/a/b/end") && g.matches("/x//end") && !g.matches("/x/end/more"));
        assert!(PathGlob::parse("/*").expect("glob").matches("/"));
        assert!(!PathGlob::parse("/*").expect("glob").matches("/a/b"));
        assert!(Glob::new("").matches("") && !Glob::new("").matches("a"));
        assert!(Glob::new("a*").matches("a") && Glob::new("*").matches("a/b"));
        assert!(Glob::new("a?b").matches("a?b") && !Glob::new("a?b").matches("axb"));
        assert!(Glob::new("*é*").matches("café!") && !Glob::new("É").matches("é"));
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

        /// The obvious, exponential glob matcher, to check the fast one.
        fn reference(p: &[u8], t: &[u8], path: bool) -> bool {
            match p {
                [] => t.is_empty(),
                [b'*', b'*', rest @ ..] if path => {
                    (0..=t.len()).any(|k| reference(rest, &t[k..], path))
                }
                [b'*', rest @ ..] => (0..=t.len())
                    .take_while(|&k| !path || k == 0 || t[k - 1] != b'/')
                    .any(|k| reference(rest, &t[k..], path)),
                [c, rest @ ..] => t.first() == Some(c) && reference(rest, &t[1..], path),
            }
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
            fn a_starless_glob_is_equality(pattern in "[a-z/.?\\[]{0,10}", text in "[a-z/.?\\[]{0,10}") {
                prop_assert_eq!(Glob::new(&pattern).matches(&text), pattern == text);
                let p = format!("/{pattern}");
                let matched = PathGlob::parse(&p).expect("glob").matches(&format!("/{text}"));
                prop_assert_eq!(matched, pattern == text);
            }

            #[test]
            fn globs_agree_with_the_obvious_matcher(pattern in "[ab/*]{0,8}", text in "[ab/]{0,10}") {
                let value = reference(pattern.as_bytes(), text.as_bytes(), false);
                prop_assert_eq!(Glob::new(&pattern).matches(&text), value);
                let path = reference(pattern.as_bytes(), text.as_bytes(), true);
                prop_assert_eq!(path_glob(&pattern, &text), path);
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
