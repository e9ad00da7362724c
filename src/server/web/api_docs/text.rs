//! A description's text: prose with `code` spans (the document's only
//! markup), kept as plain strings for the template to escape.

use serde_json::Value;

/// One run of text.
pub struct Span {
    pub text: String,
    /// Between backticks: shown as code.
    pub code: bool,
}

/// A description, as spans.
#[derive(Default)]
pub struct Text {
    pub spans: Vec<Span>,
}

impl Text {
    /// The spans of a description; none when there is none.
    pub fn of(v: Option<&Value>) -> Self {
        v.and_then(Value::as_str)
            .map(Self::parse)
            .unwrap_or_default()
    }

    /// Splits at backticks; an unmatched one stays text.
    pub fn parse(s: &str) -> Self {
        let mut spans = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find('`') {
            let Some(len) = rest[open + 1..].find('`') else {
                break;
            };
            if open > 0 {
                spans.push(Span {
                    text: rest[..open].to_owned(),
                    code: false,
                });
            }
            spans.push(Span {
                text: rest[open + 1..open + 1 + len].to_owned(),
                code: true,
            });
            rest = &rest[open + len + 2..];
        }
        if !rest.is_empty() {
            spans.push(Span {
                text: rest.to_owned(),
                code: false,
            });
        }
        Self { spans }
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Text;

    #[test]
    fn backticks_make_code_spans() {
        let t = Text::parse("a `b` c `d");
        let got: Vec<(&str, bool)> = t.spans.iter().map(|s| (s.text.as_str(), s.code)).collect();
        assert_eq!(got, [("a ", false), ("b", true), (" c `d", false)]);
        assert!(Text::parse("").is_empty());
    }
}
