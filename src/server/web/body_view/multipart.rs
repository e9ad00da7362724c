//! multipart/* bodies: the parts, each with its headers, name, filename,
//! type, size and a short preview. Anything malformed gives up (the caller
//! falls back to the text or hex view); nothing here panics on input.
//!
//! Hand-written rather than `multer` (axum's parser), because an inspector
//! shows what was sent, and multer (3.1) cannot: it hands headers over
//! lower-cased in an `http::HeaderMap`, requires CRLF everywhere, refuses
//! a part with no headers, ends a part at any line that starts with the
//! delimiter (`--bb` for boundary `b`), refuses folded header lines and
//! more than 32 headers, and ignores `filename*`. Working around that
//! would mean finding the delimiter lines and header blocks here anyway.

use super::{hex_dump, human_size};
use crate::core::headers;

/// Parts of a multipart body shown; the rest are only counted.
const MAX_PARTS: usize = 500;

/// A text part shows at most this many bytes.
pub(super) const PART_TEXT_PREVIEW: usize = 4 * 1024;

/// A binary part shows a hex dump of at most this many bytes.
const PART_HEX_PREVIEW: usize = 256;

/// A `multipart/*` body split into its parts.
#[derive(Debug)]
pub struct Multipart {
    /// The subtype: `form-data`, `mixed`, …
    pub subtype: String,
    /// The parts in order, at most [`MAX_PARTS`].
    pub parts: Vec<Part>,
    /// Parts past [`MAX_PARTS`], counted but not shown.
    pub omitted: usize,
}

/// One part of a multipart body.
#[derive(Debug)]
pub struct Part {
    /// The part's headers as sent (names as sent, values lossily UTF-8).
    pub headers: Vec<(String, String)>,
    /// The `name` of its `content-disposition`.
    pub name: Option<String>,
    /// The `filename` (or decoded `filename*`) of its `content-disposition`.
    pub filename: Option<String>,
    /// Its `content-type` header.
    pub content_type: Option<String>,
    /// The size of its content in bytes.
    pub size: usize,
    /// The same, for people.
    pub size_human: String,
    /// The start of its content.
    pub preview: Preview,
    /// True when the preview shows only the start of the content.
    pub preview_cut: bool,
}

impl Part {
    /// The preview when it is text.
    pub fn preview_text(&self) -> Option<&str> {
        match &self.preview {
            Preview::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The preview when it is a hex dump.
    pub fn preview_hex(&self) -> Option<&str> {
        match &self.preview {
            Preview::Hex(h) => Some(h),
            _ => None,
        }
    }
}

/// The start of a part's content.
#[derive(Debug, PartialEq, Eq)]
pub enum Preview {
    /// No content.
    Empty,
    /// UTF-8 text.
    Text(String),
    /// A hex dump of binary content.
    Hex(String),
}

/// The value of parameter `name` in a header value such as
/// `multipart/form-data; boundary="x"`, unquoted.
pub(super) fn param(value: &str, name: &str) -> Option<String> {
    params(value)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The `name=value` parameters after the first `;` of a header value,
/// quoted strings unquoted (`\` escapes honoured).
pub(super) fn params(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    // Skip the leading token (the type or disposition).
    for c in chars.by_ref() {
        if c == ';' {
            break;
        }
    }
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ';').is_some() {}
        if chars.peek().is_none() {
            return out;
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ';') {
            name.push(c);
        }
        let name = name.trim().to_owned();
        let mut val = String::new();
        if chars.next_if_eq(&'=').is_some() {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.next_if_eq(&'"').is_some() {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => val.extend(chars.next()),
                        c => val.push(c),
                    }
                }
                // Anything between the closing quote and the next `;`.
                while chars.next_if(|c| *c != ';').is_some() {}
            } else {
                while let Some(c) = chars.next_if(|c| *c != ';') {
                    val.push(c);
                }
                val = val.trim().to_owned();
            }
        }
        if !name.is_empty() {
            out.push((name, val));
        }
    }
}

/// Decodes an RFC 8187 extended value such as `UTF-8''na%C3%AFve.txt`.
fn ext_value(value: &str) -> Option<String> {
    let mut pieces = value.splitn(3, '\'');
    let charset = pieces.next()?;
    let _language = pieces.next()?;
    let encoded = pieces.next()?;
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    if charset.eq_ignore_ascii_case("utf-8") {
        String::from_utf8(bytes).ok()
    } else {
        // ISO-8859-1: each byte is the code point.
        Some(bytes.into_iter().map(char::from).collect())
    }
}

/// Splits a multipart body at `--boundary` lines. `None` when it is not
/// well formed (no opening or closing delimiter, a part without its blank
/// line after the headers, a header line without a colon, …): the caller
/// then shows the bytes as they are.
pub(super) fn parse_multipart(body: &[u8], boundary: &str) -> Option<(Vec<Part>, usize)> {
    if boundary.is_empty() || boundary.len() > 200 {
        return None;
    }
    let delim = format!("--{boundary}").into_bytes();
    // The first delimiter opens the body or follows the preamble's line.
    let mut pos = if is_delimiter_at(body, 0, &delim) {
        0
    } else {
        find_delimiter(body, 0, &delim)? + 1
    };
    let mut parts = Vec::new();
    let mut omitted = 0;
    loop {
        let after = pos + delim.len();
        let rest = body.get(after..)?;
        if rest.starts_with(b"--") {
            // The close delimiter; the epilogue is ignored.
            return Some((parts, omitted));
        }
        let line_end = rest.iter().position(|&b| b == b'\n')?;
        let start = after + line_end + 1;
        let newline = find_delimiter(body, start, &delim)?;
        let mut end = newline;
        if end > start && body[end - 1] == b'\r' {
            end -= 1;
        }
        let part = parse_part(&body[start..end])?;
        if parts.len() < MAX_PARTS {
            parts.push(part);
        } else {
            omitted += 1;
        }
        pos = newline + 1;
    }
}

/// True when `body[at..]` starts a delimiter line: `--boundary` followed by
/// `--`, or by optional spaces and a line end.
fn is_delimiter_at(body: &[u8], at: usize, delim: &[u8]) -> bool {
    let Some(rest) = body.get(at..) else {
        return false;
    };
    let Some(after) = rest.strip_prefix(delim) else {
        return false;
    };
    if after.starts_with(b"--") {
        return true;
    }
    let padding = after
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(after.len());
    matches!(after.get(padding..), Some([b'\n', ..] | [b'\r', b'\n', ..]))
}

/// The index of the `\n` that ends the line before the next delimiter line
/// at or after `from`.
fn find_delimiter(body: &[u8], from: usize, delim: &[u8]) -> Option<usize> {
    let mut at = from;
    loop {
        let newline = at + body.get(at..)?.iter().position(|&b| b == b'\n')?;
        if is_delimiter_at(body, newline + 1, delim) {
            return Some(newline);
        }
        at = newline + 1;
    }
}

/// One part: its headers up to the blank line, then its content.
fn parse_part(raw: &[u8]) -> Option<Part> {
    let (head, content) = split_head(raw)?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            // An obsolete folded line continues the previous header.
            let (_, value) = headers.last_mut()?;
            value.push(' ');
            value.push_str(String::from_utf8_lossy(line).trim());
            continue;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = String::from_utf8_lossy(&line[..colon]).trim().to_owned();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return None;
        }
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_owned();
        headers.push((name, value));
    }
    let disposition = headers::get(&headers, "content-disposition").unwrap_or("");
    let disposition_params = params(disposition);
    let get = |key: &str| {
        disposition_params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    };
    let name = get("name");
    let filename = get("filename*")
        .and_then(|v| ext_value(&v))
        .or_else(|| get("filename"));
    let content_type = headers::get(&headers, "content-type").map(str::to_owned);
    let (preview, preview_cut) = preview(content);
    Some(Part {
        headers,
        name,
        filename,
        content_type,
        size: content.len(),
        size_human: human_size(content.len()),
        preview,
        preview_cut,
    })
}

/// Splits a part at the blank line after its headers (CRLF or bare LF).
/// A part that starts with the blank line has no headers.
fn split_head(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(content) = raw.strip_prefix(b"\r\n") {
        return Some((&[], content));
    }
    if let Some(content) = raw.strip_prefix(b"\n") {
        return Some((&[], content));
    }
    let mut at = 0;
    loop {
        let newline = at + raw.get(at..)?.iter().position(|&b| b == b'\n')?;
        let next = &raw[newline + 1..];
        if let Some(content) = next.strip_prefix(b"\r\n") {
            return Some((&raw[..newline], content));
        }
        if let Some(content) = next.strip_prefix(b"\n") {
            return Some((&raw[..newline], content));
        }
        at = newline + 1;
    }
}

/// Text when the start of the content is UTF-8 without control characters
/// (other than tabs and line ends), else a short hex dump; and whether it
/// was cut.
fn preview(content: &[u8]) -> (Preview, bool) {
    if content.is_empty() {
        return (Preview::Empty, false);
    }
    let head = &content[..content.len().min(PART_TEXT_PREVIEW)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => Some(text),
        // Cut inside a character at the end of the preview: still text.
        Err(e) if e.error_len().is_none() && head.len() < content.len() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    let text = text.filter(|t| {
        !t.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    });
    match text {
        Some(text) => (Preview::Text(text.to_owned()), text.len() < content.len()),
        None => {
            let shown = &content[..content.len().min(PART_HEX_PREVIEW)];
            (Preview::Hex(hex_dump(shown)), shown.len() < content.len())
        }
    }
}
