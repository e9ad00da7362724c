//! How the inspector shows a body: pretty JSON, form fields, multipart
//! parts, XML, text, or a hex dump, chosen from the content type and the
//! bytes themselves — after undoing a gzip or deflate content encoding.
//! Everything produced here is plain text; the template escapes it.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read};

use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

/// Bodies larger than this are not pretty-printed or dumped whole: the
/// raw download has them.
const SHOW_LIMIT: usize = 256 * 1024;

/// Decoding a compressed body stops after this many bytes, so a small
/// zip bomb cannot take the server's memory.
const DECODE_LIMIT: usize = 10 * 1024 * 1024;

/// Parts of a multipart body shown; the rest are only counted.
const MAX_PARTS: usize = 500;

/// A text part shows at most this many bytes.
const PART_TEXT_PREVIEW: usize = 4 * 1024;

/// A binary part shows a hex dump of at most this many bytes.
const PART_HEX_PREVIEW: usize = 256;

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
    /// XML text, re-indented when it came on one line.
    Xml(String),
    /// The parts of a `multipart/*` body.
    Multipart(Box<Multipart>),
    /// A body with a content encoding: the decoded view, or the raw one
    /// with the reason it could not be decoded. Never nests: its `view`
    /// is always one of the other variants.
    Encoded(Box<Encoded>),
}

impl BodyView {
    /// The content encoding note, when the body had one.
    pub fn encoded(&self) -> Option<&Encoded> {
        match self {
            Self::Encoded(e) => Some(e),
            _ => None,
        }
    }

    /// What to show: the decoded (or raw) view of an encoded body,
    /// otherwise the view itself.
    pub fn shown(&self) -> &BodyView {
        match self {
            Self::Encoded(e) => &e.view,
            _ => self,
        }
    }
}

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

/// How an encoded body was (or was not) decoded.
#[derive(Debug)]
pub struct Encoded {
    /// The `content-encoding` as sent, normalised: `gzip`, `deflate`, …
    pub encoding: String,
    /// The size of the bytes as sent, for people.
    pub raw_size: String,
    /// The decoded size for people; `None` when decoding failed.
    pub decoded_size: Option<String>,
    /// True when decoding stopped at [`DECODE_LIMIT`].
    pub limited: bool,
    /// Why the body could not be decoded; the raw bytes are shown then.
    pub error: Option<String>,
    /// The decoded view, or the raw one when decoding failed.
    pub view: BodyView,
}

/// The view and whether it shows only the first [`SHOW_LIMIT`] bytes.
///
/// `content_type` and `content_encoding` are the header values, if any.
pub fn view(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
) -> (BodyView, bool) {
    if body.is_empty() {
        return (BodyView::Empty, false);
    }
    let codings: Vec<String> = content_encoding
        .unwrap_or("")
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    if codings.is_empty() {
        return plain(content_type, body);
    }
    let encoding = codings.join(", ");
    let raw_size = human_size(body.len());
    let (encoded, truncated) = match decode(&codings, body) {
        Ok((decoded, limited)) => {
            let decoded_size = if limited {
                format!("more than {}", human_size(DECODE_LIMIT))
            } else {
                human_size(decoded.len())
            };
            let (view, truncated) = plain(content_type, &decoded);
            let encoded = Encoded {
                encoding,
                raw_size,
                decoded_size: Some(decoded_size),
                limited,
                error: None,
                view,
            };
            (encoded, truncated || limited)
        }
        Err(reason) => {
            let (view, truncated) = plain(content_type, body);
            let encoded = Encoded {
                encoding,
                raw_size,
                decoded_size: None,
                limited: false,
                error: Some(reason),
                view,
            };
            (encoded, truncated)
        }
    };
    (BodyView::Encoded(Box::new(encoded)), truncated)
}

/// The header `name` (compared without case) among `headers`: the first
/// one, as the inspector reads them.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The view of bytes with no content encoding left on them.
fn plain(content_type: Option<&str>, body: &[u8]) -> (BodyView, bool) {
    if body.is_empty() {
        return (BodyView::Empty, false);
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or("").trim();
    if let Some(subtype) = essence.strip_prefix("multipart/") {
        let parsed = param(content_type.unwrap_or(""), "boundary")
            .and_then(|boundary| parse_multipart(body, &boundary));
        if let Some((parts, omitted)) = parsed {
            let multipart = Multipart {
                subtype: subtype.to_owned(),
                parts,
                omitted,
            };
            return (BodyView::Multipart(Box::new(multipart)), false);
        }
    }
    let truncated = body.len() > SHOW_LIMIT;
    let Ok(text) = std::str::from_utf8(body) else {
        return (
            BodyView::Hex(hex_dump(&body[..body.len().min(SHOW_LIMIT)])),
            truncated,
        );
    };
    let xml = is_xml(essence, text);
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
        if xml {
            let shown = reindent_xml(text).unwrap_or_else(|| text.to_owned());
            return (BodyView::Xml(shown), false);
        }
        return (BodyView::Text(text.to_owned()), false);
    }
    let mut end = SHOW_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let shown = text[..end].to_owned();
    if xml {
        (BodyView::Xml(shown), true)
    } else {
        (BodyView::Text(shown), true)
    }
}

fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// XML by its type (`application/xml`, `text/xml`, `…+xml`) or its
/// declaration.
fn is_xml(essence: &str, text: &str) -> bool {
    essence == "application/xml"
        || essence == "text/xml"
        || essence.ends_with("+xml")
        || text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with("<?xml")
}

/// Undoes `codings` (in the order they were applied), keeping at most
/// [`DECODE_LIMIT`] bytes. True with the bytes when there was more.
fn decode(codings: &[String], body: &[u8]) -> Result<(Vec<u8>, bool), String> {
    let mut reader: Box<dyn Read + '_> = Box::new(body);
    for coding in codings.iter().rev() {
        reader = match coding.as_str() {
            "gzip" | "x-gzip" => Box::new(MultiGzDecoder::new(reader)),
            "deflate" => deflate_reader(reader).map_err(|e| format!("deflate: {e}"))?,
            other => {
                return Err(format!(
                    "{other} is not decoded here, only gzip and deflate"
                ));
            }
        };
    }
    let mut out = Vec::new();
    reader
        .take(DECODE_LIMIT as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    let limited = out.len() > DECODE_LIMIT;
    out.truncate(DECODE_LIMIT);
    Ok((out, limited))
}

/// HTTP's `deflate` is meant to be zlib-wrapped, but some senders send a
/// raw deflate stream: the zlib header tells which.
fn deflate_reader<'a>(inner: Box<dyn Read + 'a>) -> std::io::Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::new(inner);
    let head = buffered.fill_buf()?;
    let zlib = match head {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    };
    Ok(if zlib {
        Box::new(ZlibDecoder::new(buffered))
    } else {
        Box::new(DeflateDecoder::new(buffered))
    })
}

/// The value of parameter `name` in a header value such as
/// `multipart/form-data; boundary="x"`, unquoted.
fn param(value: &str, name: &str) -> Option<String> {
    params(value)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The `name=value` parameters after the first `;` of a header value,
/// quoted strings unquoted (`\` escapes honoured).
fn params(value: &str) -> Vec<(String, String)> {
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
fn parse_multipart(body: &[u8], boundary: &str) -> Option<(Vec<Part>, usize)> {
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
    let disposition = header(&headers, "content-disposition").unwrap_or("");
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
    let content_type = header(&headers, "content-type").map(str::to_owned);
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

/// A piece of an XML document, for re-indenting.
enum XmlToken<'a> {
    /// `<name …>`, with its name.
    Open(&'a str, &'a str),
    /// `</name>`, with its name.
    Close(&'a str, &'a str),
    /// `<name/>`, a comment, a processing instruction, CDATA or a doctype.
    Leaf(&'a str),
    /// Character data between tags.
    Text(&'a str),
}

/// One element per line, indented by depth — only for XML that came on a
/// single line (already formatted XML is shown as sent) and only when it
/// is simple: balanced tags, text only alone inside an element. `None`
/// otherwise, and the text is shown as sent.
fn reindent_xml(text: &str) -> Option<String> {
    let tokens = xml_tokens(text)?;
    let mut out = String::with_capacity(text.len() * 2);
    let mut stack: Vec<&str> = Vec::new();
    let mut i = 0;
    let line = |out: &mut String, depth: usize, s: &str| {
        for _ in 0..depth {
            out.push_str("  ");
        }
        out.push_str(s);
        out.push('\n');
    };
    while let Some(token) = tokens.get(i) {
        match token {
            XmlToken::Open(tag, name) => match (tokens.get(i + 1), tokens.get(i + 2)) {
                (Some(XmlToken::Close(close, n)), _) if n == name => {
                    line(&mut out, stack.len(), &format!("{tag}{close}"));
                    i += 2;
                }
                (Some(XmlToken::Text(t)), Some(XmlToken::Close(close, n))) if n == name => {
                    line(&mut out, stack.len(), &format!("{tag}{t}{close}"));
                    i += 3;
                }
                _ => {
                    line(&mut out, stack.len(), tag);
                    stack.push(name);
                    i += 1;
                }
            },
            XmlToken::Close(tag, name) => {
                if stack.pop() != Some(name) {
                    return None;
                }
                line(&mut out, stack.len(), tag);
                i += 1;
            }
            XmlToken::Leaf(tag) => {
                line(&mut out, stack.len(), tag);
                i += 1;
            }
            XmlToken::Text(t) => {
                let formatted = !stack.is_empty() && t.contains('\n');
                if !t.trim().is_empty() || formatted {
                    // Mixed content, or already on lines: leave it as sent.
                    return None;
                }
                i += 1;
            }
        }
    }
    if !stack.is_empty() {
        return None;
    }
    out.pop();
    Some(out)
}

/// Splits XML into tags and text; `None` when a tag does not end.
fn xml_tokens(text: &str) -> Option<Vec<XmlToken<'_>>> {
    let mut tokens = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            tokens.push(XmlToken::Text(rest));
            break;
        };
        if lt > 0 {
            tokens.push(XmlToken::Text(&rest[..lt]));
            rest = &rest[lt..];
        }
        let special = [("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>")]
            .into_iter()
            .find(|(open, _)| rest.starts_with(open));
        let len = if let Some((open, close)) = special {
            open.len() + rest[open.len()..].find(close)? + close.len()
        } else {
            tag_len(rest)?
        };
        let tag = &rest[..len];
        rest = &rest[len..];
        tokens.push(if special.is_some() || tag.starts_with("<!") {
            if tag.starts_with("<!") && special.is_none() && tag.contains('[') {
                // A doctype with an internal subset: not simple.
                return None;
            }
            XmlToken::Leaf(tag)
        } else if let Some(close) = tag.strip_prefix("</") {
            XmlToken::Close(tag, xml_name(close))
        } else if tag.ends_with("/>") {
            XmlToken::Leaf(tag)
        } else {
            let name = xml_name(&tag[1..]);
            if name.is_empty() {
                return None;
            }
            XmlToken::Open(tag, name)
        });
    }
    Some(tokens)
}

/// The element name at the start of `s`.
fn xml_name(s: &str) -> &str {
    s.split(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .next()
        .unwrap_or("")
}

/// The length of the tag that starts `s` (at its `<`), up to and with its
/// `>`, skipping quoted attribute values.
fn tag_len(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i + 1),
            (None, '<') => return None,
            _ => {}
        }
    }
    None
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
        let (v, _) = view(Some("application/json"), None, br#"{"z":1,"a":[true]}"#);
        let BodyView::Json(p) = v else {
            panic!("not json: {v:?}")
        };
        assert_eq!(p, "{\n  \"z\": 1,\n  \"a\": [\n    true\n  ]\n}");
    }

    #[test]
    fn json_numbers_are_shown_as_sent() {
        let (v, _) = view(None, None, br#"[10.50, 123456789012345678901234567890]"#);
        let BodyView::Json(p) = v else {
            panic!("not json: {v:?}")
        };
        assert_eq!(p, "[\n  10.50,\n  123456789012345678901234567890\n]");
    }

    #[test]
    fn form_fields_are_decoded() {
        let (v, _) = view(
            Some("application/x-www-form-urlencoded"),
            None,
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
        let (v, _) = view(None, None, &[0xff, 0x00, b'A']);
        let BodyView::Hex(h) = v else {
            panic!("not hex: {v:?}")
        };
        assert!(h.starts_with("00000000  ff 00 41 "), "{h}");
        assert!(h.ends_with("|..A|\n"), "{h}");
    }

    #[test]
    fn invalid_json_falls_back_to_text() {
        let (v, _) = view(Some("application/json"), None, b"{not json");
        assert!(matches!(v, BodyView::Text(t) if t == "{not json"));
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("gzip");
        e.finish().expect("gzip")
    }

    fn multipart_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(b"preamble\r\n--XyZ\r\n");
        body.extend_from_slice(b"Content-Disposition: form-data; name=\"note\"\r\n\r\n");
        body.extend_from_slice(b"hello <b>world</b>\r\n--XyZ\r\n");
        body.extend_from_slice(
            b"Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".png\"\r\n",
        );
        body.extend_from_slice(b"Content-Type: image/png\r\n\r\n");
        body.extend_from_slice(&[0x89, b'P', b'N', b'G', 0x00, 0xff, b'\r', b'\n', 0x01]);
        body.extend_from_slice(b"\r\n--XyZ--\r\nepilogue");
        body
    }

    #[test]
    fn multipart_parts_are_listed() {
        let (v, truncated) = view(
            Some("multipart/form-data; boundary=\"XyZ\""),
            None,
            &multipart_body(),
        );
        assert!(!truncated);
        let BodyView::Multipart(m) = v else {
            panic!("not multipart: {v:?}")
        };
        assert_eq!(m.subtype, "form-data");
        assert_eq!(m.omitted, 0);
        assert_eq!(m.parts.len(), 2);
        let text = &m.parts[0];
        assert_eq!(text.name.as_deref(), Some("note"));
        assert_eq!(text.filename, None);
        assert_eq!(text.content_type, None);
        assert_eq!(text.size, 18);
        assert_eq!(text.preview, Preview::Text("hello <b>world</b>".into()));
        assert!(!text.preview_cut);
        assert_eq!(
            text.headers,
            vec![(
                "Content-Disposition".to_owned(),
                "form-data; name=\"note\"".to_owned()
            )]
        );
        let file = &m.parts[1];
        assert_eq!(file.name.as_deref(), Some("file"));
        assert_eq!(file.filename.as_deref(), Some("a \"b\".png"));
        assert_eq!(file.content_type.as_deref(), Some("image/png"));
        assert_eq!(file.size, 9);
        assert_eq!(file.size_human, "9 B");
        let Preview::Hex(h) = &file.preview else {
            panic!("not hex: {:?}", file.preview)
        };
        assert!(h.starts_with("00000000  89 50 4e 47 00 ff 0d 0a"), "{h}");
    }

    #[test]
    fn multipart_with_bare_newlines_and_extended_filename() {
        let body = "--b\nContent-Disposition: form-data; name=f; filename*=UTF-8''na%C3%AFve.txt\n\nline1\nline2\n--b--\n";
        let (v, _) = view(
            Some("multipart/form-data; boundary=b"),
            None,
            body.as_bytes(),
        );
        let BodyView::Multipart(m) = v else {
            panic!("not multipart: {v:?}")
        };
        assert_eq!(m.parts.len(), 1);
        assert_eq!(m.parts[0].name.as_deref(), Some("f"));
        assert_eq!(m.parts[0].filename.as_deref(), Some("naïve.txt"));
        assert_eq!(m.parts[0].preview, Preview::Text("line1\nline2".into()));
    }

    #[test]
    fn a_large_text_part_is_cut() {
        let big = "é".repeat(PART_TEXT_PREVIEW);
        let body = format!("--b\r\n\r\n{big}\r\n--b--");
        let (v, _) = view(Some("multipart/mixed; boundary=b"), None, body.as_bytes());
        let BodyView::Multipart(m) = v else {
            panic!("not multipart: {v:?}")
        };
        assert_eq!(m.subtype, "mixed");
        assert!(m.parts[0].preview_cut);
        assert!(m.parts[0].headers.is_empty());
        let Preview::Text(t) = &m.parts[0].preview else {
            panic!("not text")
        };
        assert_eq!(t.len(), PART_TEXT_PREVIEW);
    }

    #[test]
    fn malformed_multipart_falls_back() {
        let ct = Some("multipart/form-data; boundary=XyZ");
        let cases: Vec<Vec<u8>> = vec![
            // No closing delimiter.
            b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nvalue".to_vec(),
            // No delimiter at all.
            b"just some text".to_vec(),
            // No blank line after the headers.
            b"--XyZ\r\nContent-Disposition: form-data\r\n--XyZ--".to_vec(),
            // A header line without a colon.
            b"--XyZ\r\nnot a header\r\n\r\nx\r\n--XyZ--".to_vec(),
            // Binary garbage.
            vec![0xff, 0xfe, b'-', b'-', b'X', 0x00],
            // Delimiter cut at the very end.
            b"--XyZ".to_vec(),
        ];
        for body in cases {
            let (v, _) = view(ct, None, &body);
            assert!(matches!(v, BodyView::Text(_) | BodyView::Hex(_)), "{v:?}");
        }
        // No boundary parameter at all.
        let (v, _) = view(Some("multipart/form-data"), None, &multipart_body());
        assert!(matches!(v, BodyView::Hex(_)), "{v:?}");
    }

    #[test]
    fn delimiter_like_content_does_not_split() {
        let body = b"--b\r\n\r\nx\r\n--bb not a delimiter\r\n--b--\r\n";
        let (v, _) = view(Some("multipart/form-data; boundary=b"), None, body);
        let BodyView::Multipart(m) = v else {
            panic!("not multipart: {v:?}")
        };
        assert_eq!(
            m.parts[0].preview,
            Preview::Text("x\r\n--bb not a delimiter".into())
        );
    }

    #[test]
    fn xml_is_labelled_and_reindented() {
        let (v, _) = view(
            Some("application/soap+xml; charset=utf-8"),
            None,
            br#"<?xml version="1.0"?><a x="1>2"><b>t &amp; u</b><c/><!-- n --><d></d></a>"#,
        );
        let BodyView::Xml(x) = v else {
            panic!("not xml: {v:?}")
        };
        assert_eq!(
            x,
            "<?xml version=\"1.0\"?>\n<a x=\"1>2\">\n  <b>t &amp; u</b>\n  <c/>\n  <!-- n -->\n  <d></d>\n</a>"
        );
        // Sniffed from the declaration; formatted XML is kept as sent.
        let sent = "<?xml version=\"1.0\"?>\n<a>\n  <b>1</b>\n</a>\n";
        let (v, _) = view(Some("text/plain"), None, sent.as_bytes());
        assert!(matches!(v, BodyView::Xml(x) if x == sent));
        // Mixed content or unbalanced tags are kept as sent too.
        for sent in ["<p>a <b>b</b> c</p>", "<a><b></a>", "<a"] {
            let (v, _) = view(Some("text/xml"), None, sent.as_bytes());
            assert!(matches!(&v, BodyView::Xml(x) if x == sent), "{v:?}");
        }
    }

    #[test]
    fn gzip_json_is_decoded_and_pretty() {
        let raw = gzip(br#"{"z":1,"a":10.50}"#);
        let (v, truncated) = view(Some("application/json"), Some("gzip"), &raw);
        assert!(!truncated);
        let e = v.encoded().expect("encoded");
        assert_eq!(e.encoding, "gzip");
        assert_eq!(e.raw_size, human_size(raw.len()));
        assert_eq!(e.decoded_size.as_deref(), Some("17 B"));
        assert!(e.error.is_none() && !e.limited);
        let BodyView::Json(p) = v.shown() else {
            panic!("not json: {v:?}")
        };
        assert_eq!(p, "{\n  \"z\": 1,\n  \"a\": 10.50\n}");
    }

    #[test]
    fn deflate_zlib_and_raw_are_decoded() {
        use std::io::Write as _;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"a=1&b=2").expect("zlib");
        let zlib = z.finish().expect("zlib");
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(b"a=1&b=2").expect("deflate");
        let raw = d.finish().expect("deflate");
        for body in [zlib, raw] {
            let (v, _) = view(
                Some("application/x-www-form-urlencoded"),
                Some(" Deflate "),
                &body,
            );
            let e = v.encoded().expect("encoded");
            assert_eq!(e.encoding, "deflate");
            assert!(e.error.is_none(), "{e:?}");
            assert!(
                matches!(v.shown(), BodyView::Form(f) if f.len() == 2),
                "{v:?}"
            );
        }
    }

    #[test]
    fn stacked_encodings_are_undone_in_reverse() {
        let twice = gzip(&gzip(b"plain text"));
        let (v, _) = view(Some("text/plain"), Some("gzip, identity, gzip"), &twice);
        assert_eq!(v.encoded().map(|e| e.encoding.as_str()), Some("gzip, gzip"));
        assert!(matches!(v.shown(), BodyView::Text(t) if t == "plain text"));
    }

    #[test]
    fn a_gzip_bomb_is_limited() {
        let bomb = gzip(&vec![0u8; DECODE_LIMIT + 1024 * 1024]);
        assert!(bomb.len() < 100 * 1024);
        let (v, truncated) = view(None, Some("gzip"), &bomb);
        assert!(truncated);
        let e = v.encoded().expect("encoded");
        assert!(e.limited);
        assert_eq!(e.decoded_size.as_deref(), Some("more than 10.0 MiB"));
        let BodyView::Text(t) = v.shown() else {
            panic!("not text: {v:?}")
        };
        assert_eq!(t.len(), SHOW_LIMIT);
    }

    #[test]
    fn invalid_gzip_shows_the_raw_bytes_with_a_reason() {
        let (v, _) = view(
            Some("application/json"),
            Some("gzip"),
            &[0x1f, 0x8b, 0xff, 0x00],
        );
        let e = v.encoded().expect("encoded");
        assert!(e.decoded_size.is_none());
        assert!(e.error.as_deref().is_some_and(|r| !r.is_empty()), "{e:?}");
        assert!(matches!(v.shown(), BodyView::Hex(_)), "{v:?}");
        // A cut stream fails too.
        let mut cut = gzip(br#"{"a":1}"#);
        cut.truncate(cut.len() - 4);
        let (v, _) = view(None, Some("gzip"), &cut);
        assert!(v.encoded().is_some_and(|e| e.error.is_some()), "{v:?}");
        // Plain JSON sent with a wrong encoding still reads well.
        let (v, _) = view(Some("application/json"), Some("gzip"), br#"{"a":1}"#);
        assert!(matches!(v.shown(), BodyView::Json(_)), "{v:?}");
    }

    #[test]
    fn unknown_encodings_are_shown_raw() {
        let (v, _) = view(None, Some("br"), b"\x0b\x02\x80hello");
        let e = v.encoded().expect("encoded");
        assert!(
            e.error.as_deref().is_some_and(|r| r.contains("br")),
            "{e:?}"
        );
        let (v, _) = view(Some("text/plain"), Some("identity"), b"hi");
        assert!(matches!(v, BodyView::Text(t) if t == "hi"));
    }

    #[test]
    fn headers_are_found_without_case() {
        let h = vec![("Content-Encoding".to_owned(), "gzip".to_owned())];
        assert_eq!(header(&h, "content-encoding"), Some("gzip"));
        assert_eq!(header(&h, "content-type"), None);
    }

    #[test]
    fn parameters_are_unquoted() {
        assert_eq!(
            params(r#"form-data; name="a;b"; filename=x.txt ;x="q\"t""#),
            vec![
                ("name".to_owned(), "a;b".to_owned()),
                ("filename".to_owned(), "x.txt".to_owned()),
                ("x".to_owned(), "q\"t".to_owned()),
            ]
        );
        assert_eq!(
            param("multipart/form-data; BOUNDARY=abc", "boundary").as_deref(),
            Some("abc")
        );
    }

    proptest::proptest! {
        #[test]
        fn hostile_bytes_never_panic(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            cut in 0usize..600,
            flip in proptest::num::u8::ANY,
        ) {
            let ct = Some("multipart/form-data; boundary=XyZ");
            let _ = view(ct, None, &body);
            let _ = view(Some("text/xml"), Some("gzip"), &body);
            let _ = view(None, Some("deflate"), &body);
            // A valid body, cut short and with one byte changed.
            let mut mp = multipart_body();
            mp.truncate(cut.min(mp.len()));
            if let Some(b) = mp.get_mut(cut / 2) {
                *b ^= flip;
            }
            let _ = view(ct, None, &mp);
            let _ = view(ct, Some("gzip"), &gzip(&mp));
        }
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(10 * 1024 * 1024), "10.0 MiB");
    }
}
