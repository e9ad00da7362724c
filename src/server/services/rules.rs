//! Response rules: a bin's [`RuleConfig`]s checked and compiled
//! once, the rule that answers a capture chosen (first match wins), and
//! its templated body and header values rendered with the request.
//!
//! Templates: `{{request.id}}`, `{{method}}`, `{{path}}`, `{{query.NAME}}`,
//! `{{header.NAME}}`, `{{json:/pointer}}`; a value the request lacks
//! renders as nothing.

use std::time::Duration;

use crate::core::headers::Header;
use crate::core::matcher::{Match, Subject};
use crate::core::model::{Action, RuleConfig};

/// Rules a bin may have.
pub const MAX_RULES: usize = 50;

/// The longest a `hang` rule keeps a sender waiting; then the connection
/// is dropped.
pub const HANG_LIMIT: Duration = Duration::from_secs(120);

/// Captures a server keeps hanging at once; past it a `hang` rule closes
/// the connection at once (each hang holds a connection slot, and anyone
/// who knows a capture URL can send).
pub const MAX_HANGING: usize = 64;

/// Highest attempt number a range may name.
const MAX_ATTEMPT: u32 = 1000;

/// A bin's rules, compiled.
#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// The rule's name, stored on the requests it answers.
    pub name: String,
    when: Match,
    /// First and last arrival it applies to (`None`: no last).
    attempts: Option<(u32, Option<u32>)>,
    /// What it does.
    pub action: Action,
    status: u16,
    headers: Vec<(String, Template)>,
    body: Template,
    /// Wait after the capture is stored, before answering.
    pub delay: Duration,
}

/// A rule's answer to one request.
#[derive(Debug, PartialEq, Eq)]
pub struct Rendered {
    /// HTTP status.
    pub status: u16,
    /// Headers, values rendered (control characters replaced by spaces, so
    /// each is a valid header value).
    pub headers: Vec<Header>,
    /// Body, rendered.
    pub body: String,
}

impl Rules {
    /// Checks and compiles rules as the user wrote them; the error names
    /// the rule and what to fix.
    pub fn compile(configs: &[RuleConfig]) -> Result<Self, String> {
        if configs.len() > MAX_RULES {
            return Err(format!(
                "{} rules is too many: a bin has at most {MAX_RULES}",
                configs.len()
            ));
        }
        let mut rules = Vec::with_capacity(configs.len());
        for (i, c) in configs.iter().enumerate() {
            let rule = Rule::compile(c).map_err(|e| format!("rules[{i}] ({:?}): {e}", c.name))?;
            if configs[..i].iter().any(|o| o.name == c.name) {
                return Err(format!(
                    "rules[{i}]: the name {:?} is taken by an earlier rule; give each rule its own name",
                    c.name
                ));
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// True when the bin has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// True when which rule answers `s` depends on its webhook's arrival
    /// number: the first rule whose conditions hold has an `attempts`
    /// range. Only then does a capture count the earlier arrivals.
    pub fn counts_attempts(&self, s: &Subject<'_>) -> bool {
        self.rules
            .iter()
            .find(|r| r.when.holds(s))
            .is_some_and(|r| r.attempts.is_some())
    }

    /// The first rule that answers `s`, its webhook's arrival number
    /// `attempt` (1 for the first), with its index.
    pub fn choose(&self, s: &Subject<'_>, attempt: u32) -> Option<(usize, &Rule)> {
        self.rules.iter().enumerate().find(|(_, r)| {
            r.attempts.is_none_or(|(first, last)| {
                attempt >= first && last.is_none_or(|last| attempt <= last)
            }) && r.when.holds(s)
        })
    }

    /// Rule number `i`.
    pub fn get(&self, i: usize) -> Option<&Rule> {
        self.rules.get(i)
    }
}

impl Rule {
    fn compile(c: &RuleConfig) -> Result<Self, String> {
        // Characters, as the API document's maxLength counts them.
        let chars = c.name.chars().count();
        if chars == 0 || chars > 64 || c.name.chars().any(char::is_control) {
            return Err("a rule needs a name of 1-64 characters".into());
        }
        c.response.validate()?;
        let headers = c
            .response
            .headers
            .iter()
            .map(|(n, v)| {
                let template = Template::parse(v)?;
                check_header(n, &template)?;
                Ok((n.clone(), template))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            name: c.name.clone(),
            when: Match::parse(&c.conditions)?,
            attempts: c.attempts.as_deref().map(parse_attempts).transpose()?,
            action: c.action,
            status: c.response.status,
            headers,
            body: Template::parse(&c.response.body)?,
            delay: Duration::from_millis(c.response.delay_ms),
        })
    }

    /// The status it answers with (known before the request is stored,
    /// which records it).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The rule's answer to request `id`.
    pub fn render(&self, s: &Subject<'_>, id: i64) -> Rendered {
        Rendered {
            status: self.status,
            headers: self
                .headers
                .iter()
                .map(|(n, v)| {
                    let value = v.render(s, id);
                    let clean = value
                        .chars()
                        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
                        .collect();
                    (n.clone(), clean)
                })
                .collect(),
            body: self.body.render(s, id),
        }
    }
}

/// Rule answers come from the capture origin, which is also the
/// inspector's: no cookies for it, and no redirect a sender can aim.
fn check_header(name: &str, value: &Template) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    if matches!(lower.as_str(), "set-cookie" | "clear-site-data") {
        return Err(format!(
            "header {name:?} would act on the inspector's own origin; remove it"
        ));
    }
    let templated = value.0.iter().any(|p| !matches!(p, Piece::Text(_)));
    if templated && matches!(lower.as_str(), "location" | "refresh" | "content-location") {
        return Err(format!(
            "header {name:?} may not contain placeholders: a sender could aim the redirect anywhere"
        ));
    }
    Ok(())
}

/// `"2"`, `"1-2"` or `"3-"`: first and last arrival (1-based).
fn parse_attempts(text: &str) -> Result<(u32, Option<u32>), String> {
    let bad = || {
        format!(
            "attempts {text:?} is not a range: write \"1-2\" (the first two), \"3\" or \"2-\" (from the second on)"
        )
    };
    let number = |s: &str| {
        s.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_ATTEMPT).contains(n))
            .ok_or_else(bad)
    };
    let (first, last) = match text.split_once('-') {
        None => {
            let n = number(text)?;
            (n, Some(n))
        }
        Some((a, b)) if b.trim().is_empty() => (number(a)?, None),
        Some((a, b)) => (number(a)?, Some(number(b)?)),
    };
    if last.is_some_and(|last| last < first) {
        return Err(bad());
    }
    Ok((first, last))
}

/// A body or header value with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Template(Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    RequestId,
    Method,
    Path,
    Query(String),
    Header(String),
    Json(String),
}

const PLACEHOLDERS: &str = "use {{request.id}}, {{method}}, {{path}}, {{query.NAME}}, {{header.NAME}} or {{json:/pointer}}";

impl Template {
    fn parse(text: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                format!("a placeholder opened with {{{{ is not closed with }}}}: {PLACEHOLDERS}")
            })?;
            let name = after[..close].trim();
            pieces.push(match name {
                "request.id" => Piece::RequestId,
                "method" => Piece::Method,
                "path" => Piece::Path,
                _ => {
                    if let Some(q) = name.strip_prefix("query.").filter(|q| !q.is_empty()) {
                        Piece::Query(q.to_owned())
                    } else if let Some(h) = name.strip_prefix("header.").filter(|h| !h.is_empty()) {
                        Piece::Header(h.to_owned())
                    } else if let Some(p) = name
                        .strip_prefix("json:")
                        .filter(|p| p.is_empty() || p.starts_with('/'))
                    {
                        Piece::Json(p.to_owned())
                    } else {
                        return Err(format!(
                            "unknown placeholder {{{{{name}}}}}: {PLACEHOLDERS}"
                        ));
                    }
                }
            });
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Self(pieces))
    }

    fn render(&self, s: &Subject<'_>, id: i64) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::RequestId => out.push_str(&id.to_string()),
                Piece::Method => out.push_str(s.method()),
                Piece::Path => out.push_str(s.path()),
                Piece::Query(name) => out.push_str(&s.query_value(name).unwrap_or_default()),
                Piece::Header(name) => out.push_str(s.header(name).unwrap_or_default()),
                Piece::Json(pointer) => out.push_str(&s.json_text(pointer).unwrap_or_default()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::ResponseConfig;

    fn rule(name: &str, conditions: &[&str], attempts: Option<&str>, body: &str) -> RuleConfig {
        RuleConfig {
            name: name.into(),
            conditions: conditions.iter().map(|c| (*c).to_owned()).collect(),
            attempts: attempts.map(str::to_owned),
            response: ResponseConfig {
                status: 503,
                headers: vec![("x-job".into(), "{{json:/job_id}}".into())],
                body: body.into(),
                delay_ms: 0,
            },
            action: Action::Respond,
        }
    }

    #[test]
    fn first_match_wins_and_attempts_count_arrivals() {
        let rules = Rules::compile(&[
            rule(
                "flaky",
                &["json:/status=completed"],
                Some("1-2"),
                "retry {{json:/job_id}}",
            ),
            rule("all", &[], None, "ok"),
        ])
        .expect("valid");

        let headers = vec![];
        let body = br#"{"job_id":"j1","status":"completed"}"#;
        let s = Subject::new("POST", "/", "", &headers, body);
        assert_eq!(
            rules.choose(&s, 1).map(|(_, r)| r.name.as_str()),
            Some("flaky")
        );
        assert_eq!(
            rules.choose(&s, 2).map(|(_, r)| r.name.as_str()),
            Some("flaky")
        );
        assert_eq!(
            rules.choose(&s, 3).map(|(_, r)| r.name.as_str()),
            Some("all")
        );
        let r = rules.choose(&s, 1).expect("rule").1.render(&s, 42);
        assert_eq!(r.body, "retry j1");
        assert_eq!(r.headers, vec![("x-job".to_owned(), "j1".to_owned())]);
    }

    #[test]
    fn templates_render_every_placeholder() {
        let t = Template::parse("{{request.id}} {{ method }} {{path}} {{query.a}} {{header.X-Y}} {{json:/n}} {{json:/missing}}!")
            .expect("valid");
        let headers = vec![("x-y".to_owned(), "v\r\nx".to_owned())];
        let s = Subject::new("PUT", "/p", "a=1%202", &headers, br#"{"n":1.50}"#);
        assert_eq!(t.render(&s, 7), "7 PUT /p 1 2 v\r\nx 1.50 !");
        let rendered = Rule::compile(&RuleConfig {
            response: ResponseConfig {
                headers: vec![("x-echo".into(), "{{header.x-y}}".into())],
                ..ResponseConfig::default()
            },
            ..rule("h", &[], None, "")
        })
        .expect("valid")
        .render(&s, 1);
        assert_eq!(rendered.headers[0].1, "v  x");
    }

    #[test]
    fn mistakes_name_the_rule_and_the_fix() {
        let e = Rules::compile(&[rule("a", &["heder.x=1"], None, "")]).expect_err("bad match");
        assert!(
            e.starts_with("rules[0] (\"a\"): condition \"heder.x=1\""),
            "{e}"
        );
        let e = Rules::compile(&[rule("a", &[], Some("2-1"), "")]).expect_err("bad range");
        assert!(e.contains("\"1-2\""), "{e}");
        let e = Rules::compile(&[rule("a", &[], None, "{{nope}}")]).expect_err("placeholder");
        assert!(e.contains("unknown placeholder {{nope}}"), "{e}");
        let e = Rules::compile(&[rule("a", &[], None, "{{method")]).expect_err("unclosed");
        assert!(e.contains("not closed"), "{e}");
        let mut cookie = rule("a", &[], None, "");
        cookie.response.headers = vec![("Set-Cookie".into(), "hookwire_session=x".into())];
        assert!(
            Rules::compile(&[cookie])
                .expect_err("cookie")
                .contains("origin")
        );
        let mut redirect = rule("a", &[], None, "");
        redirect.response.headers = vec![("location".into(), "{{query.next}}".into())];
        assert!(
            Rules::compile(&[redirect])
                .expect_err("redirect")
                .contains("placeholders")
        );
        let e =
            Rules::compile(&[rule("a", &[], None, ""), rule("a", &[], None, "")]).expect_err("dup");
        assert!(e.contains("taken"), "{e}");
        assert_eq!(parse_attempts("3-"), Ok((3, None)));
        assert_eq!(parse_attempts("2"), Ok((2, Some(2))));
        assert!(parse_attempts("0").is_err() && parse_attempts("x").is_err());
    }
}
