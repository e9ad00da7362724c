//! XML bodies: re-indented when they arrive on one line with a simple
//! structure, else shown as sent. `quick-xml` reads the markup (quoted
//! attributes, comments, CDATA, processing instructions, end tags that
//! must match); the lines are laid out here from the bytes as sent.

use quick_xml::Reader;
use quick_xml::events::Event;

/// A piece of an XML document, for re-indenting: each holds its text as
/// sent.
enum XmlToken<'a> {
    /// `<name …>`, with its name.
    Open(&'a str, &'a str),
    /// `</name>`, with its name.
    Close(&'a str, &'a str),
    /// `<name/>`, a comment, a processing instruction, CDATA or a doctype.
    Leaf(&'a str),
    /// Character data between tags, entity references included.
    Text(&'a str),
}

/// One element per line, indented by depth — only for XML that came on a
/// single line (already formatted XML is shown as sent) and only when it
/// is simple: balanced tags, text only alone inside an element. `None`
/// otherwise, and the text is shown as sent.
pub(super) fn reindent_xml(text: &str) -> Option<String> {
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

/// Splits XML into tags and text, each as sent; `None` when quick-xml
/// finds it malformed (a tag that does not end, an end tag that does not
/// match) or it holds a doctype with an internal subset.
fn xml_tokens(text: &str) -> Option<Vec<XmlToken<'_>>> {
    // quick-xml drops a byte order mark without counting it in its
    // positions; such text is not shown re-indented anyway (the mark is
    // text before the root).
    if text.starts_with('\u{feff}') {
        return None;
    }
    let mut reader = Reader::from_str(text);
    // A lone `&` (not well formed, but common in hand-written payloads)
    // stays text, as before quick-xml, rather than costing the layout.
    reader.config_mut().allow_dangling_amp = true;
    let mut tokens = Vec::new();
    // Where the last text run started, to merge the text and references
    // quick-xml reports apart into one run.
    let mut text_from = None;
    loop {
        let start = usize::try_from(reader.buffer_position()).ok()?;
        let event = reader.read_event().ok()?;
        let end = usize::try_from(reader.buffer_position()).ok()?;
        // Every event is cut from the input as sent, not re-serialised.
        let raw = text.get(start..end)?;
        let token = match event {
            Event::Eof => break,
            Event::Text(_) | Event::GeneralRef(_) => {
                let from = *text_from.get_or_insert(start);
                if matches!(tokens.last(), Some(XmlToken::Text(_))) {
                    tokens.pop();
                }
                tokens.push(XmlToken::Text(text.get(from..end)?));
                continue;
            }
            Event::Start(e) => {
                let name = name_at(raw, "<".len(), e.name().as_ref())?;
                if name.is_empty() {
                    return None;
                }
                XmlToken::Open(raw, name)
            }
            Event::End(e) => XmlToken::Close(raw, name_at(raw, "</".len(), e.name().as_ref())?),
            // A doctype with an internal subset: not simple.
            Event::DocType(_) if raw.contains('[') => return None,
            Event::Empty(_)
            | Event::Comment(_)
            | Event::CData(_)
            | Event::Decl(_)
            | Event::PI(_)
            | Event::DocType(_) => XmlToken::Leaf(raw),
        };
        text_from = None;
        tokens.push(token);
    }
    Some(tokens)
}

/// The element name quick-xml read, as the same bytes of `raw` (the tag as
/// sent) from `from` on, so the tokens borrow only from the input.
fn name_at<'a>(raw: &'a str, from: usize, name: &str) -> Option<&'a str> {
    raw.get(from..from + name.len()).filter(|n| *n == name)
}
