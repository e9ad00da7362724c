//! `check`'s reports: one line per check for people (colour only on a
//! terminal), one JSON object (`--json`), JUnit XML (`--junit FILE`).

use std::io::Write as _;

use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Value, json};

use super::checks::advice;
use super::{Graded, Verdict};
use crate::core::term::Stream;

/// The widest check name, for aligned columns.
const NAME_WIDTH: usize = 25;

fn label(v: Verdict, colour: bool) -> String {
    let (word, code) = match v {
        Verdict::Pass => ("PASS", "32"),
        Verdict::Fail => ("FAIL", "31"),
        Verdict::Skip => ("SKIP", "33"),
    };
    if colour {
        format!("\x1b[1;{code}m{word}\x1b[0m")
    } else {
        word.to_owned()
    }
}

/// The human report: a line per check, why and how to fix under each
/// failure, and a count.
pub fn human(provider: &str, to: &str, checks: &[Graded], colour: bool) -> String {
    let mut out = format!("hookwire check: {provider} against {to}\n");
    for g in checks {
        let name = g.name;
        let line = match g.verdict {
            Verdict::Skip => format!("{name:NAME_WIDTH$}  {}", g.got),
            _ => format!("{name:NAME_WIDTH$}  {} -> {}", g.sent, g.got),
        };
        out.push_str(&format!("{}  {line}\n", label(g.verdict, colour)));
        if g.verdict == Verdict::Fail {
            let (why, fix) = advice(name);
            out.push_str(&format!("      why: {why}\n      fix: {fix}\n"));
        }
    }
    let count = |v| checks.iter().filter(|g| g.verdict == v).count();
    let plural = if checks.len() == 1 { "" } else { "s" };
    out.push_str(&format!(
        "{} check{plural}: {} passed, {} failed, {} skipped\n",
        checks.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Skip)
    ));
    out
}

/// Prints the human report on stdout.
pub fn print_human(provider: &str, to: &str, checks: &[Graded]) {
    print!("{}", human(provider, to, checks, Stream::Stdout.colour()));
}

/// The `--json` object of SPEC §15. `why` is the reason for a skip, and
/// `why`/`fix` the advice for a failure; `sent`/`got` are null for a skip.
pub fn json(provider: &str, to: &str, checks: &[Graded]) -> Value {
    let checks: Vec<Value> = checks
        .iter()
        .map(|g| {
            let (sent, got, why, fix) = match g.verdict {
                Verdict::Pass => (json!(g.sent), json!(g.got), Value::Null, Value::Null),
                Verdict::Skip => (Value::Null, Value::Null, json!(g.got), Value::Null),
                Verdict::Fail => {
                    let (why, fix) = advice(g.name);
                    (json!(g.sent), json!(g.got), json!(why), json!(fix))
                }
            };
            json!({
                "name": g.name, "result": g.verdict.word(),
                "sent": sent, "got": got, "why": why, "fix": fix,
            })
        })
        .collect();
    json!({ "provider": provider, "to": to, "checks": checks })
}

/// JUnit XML: one testsuite, one testcase per check, a `<failure>` with
/// why and fix, a `<skipped>` with the reason. quick-xml escapes every
/// attribute and text.
pub fn junit(provider: &str, to: &str, checks: &[Graded], seconds: f64) -> Vec<u8> {
    let count = |v| checks.iter().filter(|g| g.verdict == v).count().to_string();
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let suite_name = format!("hookwire check {provider} {to}");
    let mut suite = BytesStart::new("testsuite");
    let (tests, failures, skipped) = (
        checks.len().to_string(),
        count(Verdict::Fail),
        count(Verdict::Skip),
    );
    let time = format!("{seconds:.3}");
    suite.push_attribute(("name", suite_name.as_str()));
    suite.push_attribute(("tests", tests.as_str()));
    suite.push_attribute(("failures", failures.as_str()));
    suite.push_attribute(("errors", "0"));
    suite.push_attribute(("skipped", skipped.as_str()));
    suite.push_attribute(("time", time.as_str()));
    let class = format!("hookwire.check.{provider}");
    // Writing to a Vec cannot fail.
    let mut put = |e: Event<'_>| w.write_event(e).expect("writes to memory");
    put(Event::Decl(quick_xml::events::BytesDecl::new(
        "1.0",
        Some("UTF-8"),
        None,
    )));
    put(Event::Start(suite));
    for g in checks {
        let mut case = BytesStart::new("testcase");
        case.push_attribute(("name", g.name));
        case.push_attribute(("classname", class.as_str()));
        match g.verdict {
            Verdict::Pass => put(Event::Empty(case)),
            Verdict::Skip => {
                put(Event::Start(case));
                let mut s = BytesStart::new("skipped");
                s.push_attribute(("message", g.got.as_str()));
                put(Event::Empty(s));
                put(Event::End(BytesEnd::new("testcase")));
            }
            Verdict::Fail => {
                let (why, fix) = advice(g.name);
                let message = format!("{why} Fix: {fix}");
                put(Event::Start(case));
                let mut f = BytesStart::new("failure");
                f.push_attribute(("message", message.as_str()));
                f.push_attribute(("type", g.name));
                put(Event::Start(f));
                let text = format!("sent: {}\ngot: {}", g.sent, g.got);
                put(Event::Text(BytesText::new(&text)));
                put(Event::End(BytesEnd::new("failure")));
                put(Event::End(BytesEnd::new("testcase")));
            }
        }
    }
    put(Event::End(BytesEnd::new("testsuite")));
    let mut out = w.into_inner();
    let _ = writeln!(out);
    out
}
