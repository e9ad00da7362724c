//! How the inspector shows a body: pretty JSON, form fields, multipart
//! parts, XML, text, or a hex dump, chosen from the content type and the
//! bytes themselves — after undoing a gzip or deflate content encoding.
//! Everything produced here is plain text; the template escapes it.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read};

use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

mod multipart;
mod xml;

pub use multipart::Multipart;
use multipart::{param, parse_multipart};
use xml::reindent_xml;

/// Bodies larger than this are not pretty-printed or dumped whole: the
/// raw download has them.
const SHOW_LIMIT: usize = 256 * 1024;

/// Decoding a compressed body stops after this many bytes, so a small
/// zip bomb cannot take the server's memory.
const DECODE_LIMIT: usize = 10 * 1024 * 1024;

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
    use super::multipart::{PART_TEXT_PREVIEW, Preview, params};
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
