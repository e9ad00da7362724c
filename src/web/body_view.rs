//! How the inspector shows a body: pretty JSON, form fields, text, or a hex
//! dump, chosen from the content type and the bytes themselves. Everything
//! produced here is plain text; the template escapes it.

use std::fmt::Write as _;

/// Bodies larger than this are not pretty-printed or dumped whole: the
/// raw download has them.
const SHOW_LIMIT: usize = 256 * 1024;

/// A body ready for the template.
#[derive(Debug)]
pub enum BodyView {
    /// No body at all.
    Empty,
    /// Pretty-printed JSON.
    Json(String),
    /// Decoded `application/x-www-form-urlencoded` fields, in order.
    Form(Vec<(String, String)>),
    /// UTF-8 text as sent.
    Text(String),
    /// Hex dump lines of binary (or invalid UTF-8) data.
    Hex(String),
}

/// The view and whether it shows only the first [`SHOW_LIMIT`] bytes.
pub fn view(content_type: Option<&str>, body: &[u8]) -> (BodyView, bool) {
    if body.is_empty() {
        return (BodyView::Empty, false);
    }
    let truncated = body.len() > SHOW_LIMIT;
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let Ok(text) = std::str::from_utf8(body) else {
        return (
            BodyView::Hex(hex_dump(&body[..body.len().min(SHOW_LIMIT)])),
            truncated,
        );
    };
    if !truncated {
        let pretty = (ct.contains("json") || looks_like_json(text))
            .then(|| serde_json::from_str::<serde_json::Value>(text).ok())
            .flatten()
            .and_then(|v| serde_json::to_string_pretty(&v).ok());
        if let Some(pretty) = pretty {
            return (BodyView::Json(pretty), false);
        }
        if ct.starts_with("application/x-www-form-urlencoded") {
            let fields = form_urlencoded::parse(body).into_owned().collect();
            return (BodyView::Form(fields), false);
        }
        return (BodyView::Text(text.to_owned()), false);
    }
    let mut end = SHOW_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (BodyView::Text(text[..end].to_owned()), true)
}

fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// `offset  hex bytes  |ascii|`, 16 bytes a line, like `hexdump -C`.
pub fn hex_dump(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 4 + 16);
    for (i, chunk) in data.chunks(16).enumerate() {
        let _ = write!(out, "{:08x}  ", i * 16);
        for j in 0..16 {
            match chunk.get(j) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
            if j == 7 {
                out.push(' ');
            }
        }
        out.push_str(" |");
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    out
}

/// A human size: `512 B`, `1.5 KiB`, `10.0 MiB`.
pub fn human_size(n: usize) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if f < KIB {
        format!("{n} B")
    } else if f < KIB * KIB {
        format!("{:.1} KiB", f / KIB)
    } else {
        format!("{:.1} MiB", f / (KIB * KIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_pretty_and_keeps_key_order() {
        let (v, _) = view(Some("application/json"), br#"{"z":1,"a":[true]}"#);
        let BodyView::Json(p) = v else {
            panic!("not json: {v:?}")
        };
        assert_eq!(p, "{\n  \"z\": 1,\n  \"a\": [\n    true\n  ]\n}");
    }

    #[test]
    fn json_numbers_are_shown_as_sent() {
        let (v, _) = view(None, br#"[10.50, 123456789012345678901234567890]"#);
        let BodyView::Json(p) = v else {
            panic!("not json: {v:?}")
        };
        assert_eq!(p, "[\n  10.50,\n  123456789012345678901234567890\n]");
    }

    #[test]
    fn form_fields_are_decoded() {
        let (v, _) = view(
            Some("application/x-www-form-urlencoded"),
            b"a=1&b=x+y&a=%3C",
        );
        let BodyView::Form(f) = v else {
            panic!("not form: {v:?}")
        };
        assert_eq!(
            f,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("a".into(), "<".into())
            ]
        );
    }

    #[test]
    fn binary_is_hex_dumped() {
        let (v, _) = view(None, &[0xff, 0x00, b'A']);
        let BodyView::Hex(h) = v else {
            panic!("not hex: {v:?}")
        };
        assert!(h.starts_with("00000000  ff 00 41 "), "{h}");
        assert!(h.ends_with("|..A|\n"), "{h}");
    }

    #[test]
    fn invalid_json_falls_back_to_text() {
        let (v, _) = view(Some("application/json"), b"{not json");
        assert!(matches!(v, BodyView::Text(t) if t == "{not json"));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(10 * 1024 * 1024), "10.0 MiB");
    }
}
