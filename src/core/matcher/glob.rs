//! Globs, matched in linear time: a header or query value glob (`*`
//! matches any run) and a path glob (`*` within a segment, `**` across).

use std::fmt;

/// A header or query value glob: `*` matches any run of characters,
/// `/` included (`**` is the same); the rest is literal, case-sensitive.
/// Displays as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Glob(String);

impl Glob {
    pub(super) fn new(text: &str) -> Self {
        Self(text.to_owned())
    }

    pub(super) fn matches(&self, text: &str) -> bool {
        let tokens = self.0.bytes().map(|b| match b {
            b'*' => Token::Across,
            b => Token::Byte(b),
        });
        wildcard(tokens, text.as_bytes())
    }
}

/// A path glob: `*` matches within one segment (no `/`), `**` matches
/// across segments (any characters, `/` included). A trailing `/**` also
/// matches the bare prefix (`/stripe/**` matches `/stripe`, `/stripe/`,
/// `/stripe/a/b`). Every other character is literal. Displays as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGlob(String);

impl PathGlob {
    /// Parses a glob, which starts with `/` as sub-paths do.
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err(format!(
                "path globs start with \"/\", e.g. path=/jobs/* (got {text:?})"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// True when `path` (a raw sub-path) matches.
    pub fn matches(&self, path: &str) -> bool {
        if let Some(prefix) = self.0.strip_suffix("/**")
            && path_glob(prefix, path)
        {
            return true;
        }
        path_glob(&self.0, path)
    }
}

impl fmt::Display for PathGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One step of a glob.
#[derive(Clone, Copy)]
enum Token {
    /// This byte, literally.
    Byte(u8),
    /// Any run of bytes but `/`.
    Within,
    /// Any run of bytes.
    Across,
}

/// `pattern` against `text`, `**` across segments, `*` within one.
fn path_glob(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let mut tokens = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'*' {
            let across = p.get(i + 1) == Some(&b'*');
            tokens.push(if across { Token::Across } else { Token::Within });
            i += if across { 2 } else { 1 };
        } else {
            tokens.push(Token::Byte(p[i]));
            i += 1;
        }
    }
    wildcard(tokens, text.as_bytes())
}

/// Glob matching by dynamic programming over text positions, one token at
/// a time: linear memory and `O(pattern × text)` time, so hostile globs
/// (`*a*a*a*b`) cannot make it exponential as naive backtracking would.
/// Bytes, not chars: a star's run over UTF-8 is still whole characters,
/// because literal bytes around it are.
fn wildcard(pattern: impl IntoIterator<Item = Token>, text: &[u8]) -> bool {
    // can[j]: the tokens so far match text[..j].
    let mut can = vec![false; text.len() + 1];
    can[0] = true;
    for token in pattern {
        match token {
            Token::Byte(p) => {
                for j in (1..=text.len()).rev() {
                    can[j] = can[j - 1] && text[j - 1] == p;
                }
                can[0] = false;
            }
            Token::Within | Token::Across => {
                let across = matches!(token, Token::Across);
                for j in 1..=text.len() {
                    can[j] = can[j] || (can[j - 1] && (across || text[j - 1] != b'/'));
                }
            }
        }
        // Nothing can match any more: stop early.
        if !can.contains(&true) {
            return false;
        }
    }
    can[text.len()]
}

#[cfg(test)]
mod tests {
    //! Globs are literal but for stars; the fast matcher agrees with the
    //! obvious, exponential one under proptest.

    use super::*;

    #[test]
    fn globs_are_literal_but_for_stars() {
        let g = PathGlob::parse("/stripe/**").expect("glob");
        for p in ["/stripe", "/stripe/", "/stripe/evt", "/stripe/a/b"] {
            assert!(g.matches(p), "{p}");
        }
        assert!(!g.matches("/stripes") && !g.matches("/") && !g.matches("/strip"));
        let g = PathGlob::parse("/a.b?[c]/*.json").expect("glob");
        assert!(g.matches("/a.b?[c]/x.json"));
        assert!(!g.matches("/aXb?[c]/x.json") && !g.matches("/a.b?[c]/x/y.json"));
        assert!(!g.matches("/a.bX[c]/x.json") && !g.matches("/a.b?c/x.json"));
        let g = PathGlob::parse("/x/**/end").expect("glob");
        assert!(g.matches("/x/a/b/end") && g.matches("/x//end") && !g.matches("/x/end/more"));
        assert!(PathGlob::parse("/*").expect("glob").matches("/"));
        assert!(!PathGlob::parse("/*").expect("glob").matches("/a/b"));
        assert!(Glob::new("").matches("") && !Glob::new("").matches("a"));
        assert!(Glob::new("a*").matches("a") && Glob::new("*").matches("a/b"));
        assert!(Glob::new("a?b").matches("a?b") && !Glob::new("a?b").matches("axb"));
        assert!(Glob::new("*é*").matches("café!") && !Glob::new("É").matches("é"));
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        /// The obvious, exponential glob matcher, to check the fast one.
        fn reference(p: &[u8], t: &[u8], path: bool) -> bool {
            match p {
                [] => t.is_empty(),
                [b'*', b'*', rest @ ..] if path => {
                    (0..=t.len()).any(|k| reference(rest, &t[k..], path))
                }
                [b'*', rest @ ..] => (0..=t.len())
                    .take_while(|&k| !path || k == 0 || t[k - 1] != b'/')
                    .any(|k| reference(rest, &t[k..], path)),
                [c, rest @ ..] => t.first() == Some(c) && reference(rest, &t[1..], path),
            }
        }

        proptest! {
            #[test]
            fn a_starless_glob_is_equality(pattern in "[a-z/.?\\[]{0,10}", text in "[a-z/.?\\[]{0,10}") {
                prop_assert_eq!(Glob::new(&pattern).matches(&text), pattern == text);
                let p = format!("/{pattern}");
                let matched = PathGlob::parse(&p).expect("glob").matches(&format!("/{text}"));
                prop_assert_eq!(matched, pattern == text);
            }

            #[test]
            fn globs_agree_with_the_obvious_matcher(pattern in "[ab/*]{0,8}", text in "[ab/]{0,10}") {
                let value = reference(pattern.as_bytes(), text.as_bytes(), false);
                prop_assert_eq!(Glob::new(&pattern).matches(&text), value);
                let path = reference(pattern.as_bytes(), text.as_bytes(), true);
                prop_assert_eq!(path_glob(&pattern, &text), path);
            }
        }
    }
}
