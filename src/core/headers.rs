//! Headers as hookwire keeps them: `(name, value)` pairs in arrival order,
//! duplicates kept, and the one way to look one up.

/// A header as captured: lower-case name and value. Values that are not
/// UTF-8 (obs-text) are kept lossily; bodies, not headers, are byte-exact.
pub type Header = (String, String);

/// The value of the first header named `name`, compared without case:
/// captured names are lower-case, but imported documents and apps' answers
/// need not be.
pub fn get<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// True when a header named `name` (compared without case) is present.
pub fn has(headers: &[Header], name: &str) -> bool {
    get(headers, name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_without_case() {
        let h = vec![("Content-Encoding".to_owned(), "gzip".to_owned())];
        assert_eq!(get(&h, "content-encoding"), Some("gzip"));
        assert_eq!(get(&h, "content-type"), None);
    }

    #[test]
    fn the_first_of_duplicates_wins() {
        let h = vec![
            ("x-dup".to_owned(), "1".to_owned()),
            ("X-Dup".to_owned(), "2".to_owned()),
        ];
        assert_eq!(get(&h, "X-DUP"), Some("1"));
        assert!(has(&h, "x-dup") && !has(&h, "x-other"));
    }
}
