//! Joining URLs: a captured request's sub-path and query appended to a base
//! (a capture URL, an app's `--to`, an export's `to=`). One rule for all,
//! so the URL Twilio signed, the curl export and the tunnel's relay agree.

/// The sub-path with its query, as the inspector lists it: `/a?x=1`.
pub fn target(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// `base` (no trailing slash) with a raw sub-path and raw query appended.
/// The bare sub-path `/` adds nothing to a base that has a path of its own
/// (`http://h/<bin>` stays bare, as senders were given it) and gives a base
/// without one its root (`http://h/`).
pub fn join(base: &str, path: &str, query: &str) -> String {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let has_path = base[after_scheme..].contains('/');
    let mut url = base.to_owned();
    if path != "/" || !has_path {
        url.push_str(path);
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// True for an `http://` or `https://` URL.
pub fn is_http(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_the_capture_url_bare() {
        assert_eq!(join("http://h/b", "/", ""), "http://h/b");
        assert_eq!(join("http://h", "/", ""), "http://h/");
        assert_eq!(join("http://h/b", "/x", "a=1"), "http://h/b/x?a=1");
        assert_eq!(
            join("http://127.0.0.1:3000/hooks", "/", "q"),
            "http://127.0.0.1:3000/hooks?q"
        );
    }

    #[test]
    fn targets_show_the_query() {
        assert_eq!(target("/a", ""), "/a");
        assert_eq!(target("/a", "x=1"), "/a?x=1");
    }
}
