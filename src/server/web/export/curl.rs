//! The curl export: a shell command that sends a captured request again,
//! byte for byte. A printable text body is written inline, safely quoted;
//! any other body (NUL, invalid UTF-8, control bytes) is piped in as
//! base64 (`printf '%s' 'BASE64' | base64 -d | curl … --data-binary @-`),
//! which is byte-exact for anything and needs no escaping.

use base64::Engine as _;

use super::B64;
use crate::core::model::CapturedRequest;

/// Quotes a word for a POSIX shell: single quotes, `'` as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// True when a body can be written inline, inside single quotes, and read
/// back byte for byte: UTF-8 text without control characters other than
/// newline and tab (a terminal may mangle a pasted CR or escape), and not
/// starting with `@`, which curl's `--data-binary` would read as a file
/// name.
fn inline_text(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    let printable = text
        .chars()
        .all(|c| !c.is_control() || c == '\n' || c == '\t');
    (printable && !text.starts_with('@')).then_some(text)
}

/// A shell command that sends the request again to `url`: method, every
/// header in order (duplicates kept; `host` and `content-length` are
/// curl's to set) and the exact body — inline when it is printable text
/// (`--data-binary '…'`), else piped in as base64. Headers curl would add
/// on its own (`User-Agent`, `Accept`, a form `Content-Type`, `Expect`)
/// are suppressed when the request did not carry them.
pub fn curl_command(r: &CapturedRequest, url: &str) -> String {
    let q = &r.req;
    let has_body = !q.body.is_empty();
    let mut args: Vec<String> = vec![
        "curl".into(),
        "--http1.1".into(),
        "--globoff".into(),
        "--path-as-is".into(),
    ];
    if q.method == "HEAD" && !has_body {
        args.push("--head".into());
    } else {
        args.push(format!("-X {}", shell_quote(&q.method)));
    }
    let has = |name: &str| crate::core::headers::has(&q.headers, name);
    for (name, value) in &q.headers {
        let lower = name.to_ascii_lowercase();
        if lower == "host" || lower == "content-length" {
            continue;
        }
        // A chunked framing header without a body would make the server
        // wait for chunks that never come.
        if lower == "transfer-encoding" && !has_body {
            continue;
        }
        // `name;` is curl's way to send a header with an empty value.
        let line = if value.is_empty() {
            format!("{name};")
        } else {
            format!("{name}: {value}")
        };
        args.push(format!("-H {}", shell_quote(&line)));
    }
    let mut suppress = vec!["User-Agent", "Accept"];
    if has_body {
        suppress.extend(["Content-Type", "Expect"]);
    }
    for name in suppress {
        if !has(name) {
            args.push(format!("-H {}", shell_quote(&format!("{name}:"))));
        }
    }
    let text = inline_text(&q.body);
    match text {
        Some(text) if has_body => args.push(format!("--data-binary {}", shell_quote(text))),
        None if has_body => args.push("--data-binary @-".into()),
        _ => {}
    }
    args.push(shell_quote(url));
    let curl = args.join(" \\\n  ");
    if has_body && text.is_none() {
        format!(
            "printf '%s' {} | base64 -d | {curl}\n",
            shell_quote(&B64.encode(&q.body))
        )
    } else {
        format!("{curl}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_single_quotes() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }

    #[test]
    fn printable_text_is_inline_and_the_rest_piped() {
        assert_eq!(inline_text(b"{\"a\": 'x'}\n\n"), Some("{\"a\": 'x'}\n\n"));
        assert_eq!(inline_text(b"a\tb"), Some("a\tb"));
        for body in [
            &b"a\x00b"[..],
            b"\xff\xfe",
            b"a\r\nb",
            b"\x1b[31m",
            b"@/etc/passwd",
        ] {
            assert_eq!(inline_text(body), None, "{body:?}");
        }
    }
}
