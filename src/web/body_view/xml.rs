//! XML bodies: re-indented when they arrive on one line with a simple
//! structure, else shown as sent.

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
