//! What users paste: one reading of every URL hookwire prints or shows, so
//! `tunnel`, `tail`, `wait`, `resend` and `new` take whichever one the user
//! has at hand — a capture URL (by bin id or alias, with any sub-path), the
//! inspector's `/bins/ID` (`?r=N`, `/requests/N/detail`), the API's
//! `/api/bins/ID[/requests/N[/…]]`, or just the server — and `--to`'s
//! short forms (`3000`, `:3000`, `localhost:3000`).
//!
//! The server is the URL's origin: hookwire's pages link from the root
//! (`/bins/…`, `/static/…`), so it cannot be mounted under a path prefix,
//! and the first path segment always says what the URL names.

use uuid::Uuid;

/// A bin as a URL names it: by id, or by alias (to be looked up through
/// the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinRef {
    /// The bin's id.
    Id(Uuid),
    /// A readable alias (`stripe-dev`).
    Alias(String),
}

impl std::fmt::Display for BinRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BinRef::Id(id) => write!(f, "{id}"),
            BinRef::Alias(alias) => f.write_str(alias),
        }
    }
}

/// What a pasted URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pasted {
    /// The server's base URL: scheme, host and port
    /// (`http://127.0.0.1:8080`).
    pub server: String,
    /// The bin, when the URL names one.
    pub bin: Option<BinRef>,
    /// A captured request's id, when the URL names one.
    pub request: Option<i64>,
    /// The URL as given, for messages.
    pub text: String,
}

const EXAMPLES: &str = "paste the capture URL `hookwire new` printed \
     (http://127.0.0.1:8080/<bin-id> or /<alias>), or the inspector's URL (…/bins/<bin-id>)";

impl Pasted {
    /// The bin, or what to paste instead.
    pub fn bin(&self) -> Result<&BinRef, String> {
        self.bin.as_ref().ok_or_else(|| {
            format!(
                "{:?} names the server {} but no bin: {EXAMPLES}",
                self.text, self.server
            )
        })
    }

    /// The bin and the request, or what to paste instead.
    pub fn request(&self) -> Result<(&BinRef, i64), String> {
        let bin = self.bin()?;
        let id = self.request.ok_or_else(|| {
            format!(
                "{:?} names bin {bin} but no request in it: paste a request's URL — the \
                 inspector's {}/bins/{bin}?r=<id> or the API's {}/api/bins/{bin}/requests/<id>",
                self.text, self.server, self.server
            )
        })?;
        Ok((bin, id))
    }
}

/// Reads a pasted capture, inspector, request, API or server URL. A first
/// path segment that is neither a bin id nor one of the server's own paths
/// is read as an alias (`http://h/eden-dev/x`).
pub fn parse(text: &str) -> Result<Pasted, String> {
    read(text, true)
}

/// The server a pasted URL means (`new --server`): the origin of any of
/// its URLs (`…/bins`, an inspector or capture URL).
pub fn server(text: &str) -> Result<String, String> {
    read(text, false).map(|p| p.server)
}

fn read(text: &str, aliases: bool) -> Result<Pasted, String> {
    let text = text.trim();
    let wrong = |why: &str| format!("{text:?} is not a hookwire URL ({why}): {EXAMPLES}");
    let (scheme, rest) = text
        .split_once("://")
        .filter(|(s, _)| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"))
        .ok_or_else(|| wrong("it does not start with http:// or https://"))?;
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return Err(wrong("it has no host"));
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let server = format!("{}://{authority}", scheme.to_ascii_lowercase());
    let pasted = |bin: Option<BinRef>, request: Option<i64>| Pasted {
        server: server.clone(),
        bin,
        request,
        text: text.to_owned(),
    };
    // The bin's place: first on a capture URL, after `bins` on the
    // inspector's, after `api/bins` on the API's.
    let after = match (segments.first(), segments.get(1)) {
        (None, _) => return Ok(pasted(None, None)),
        (Some(first), _) if Uuid::parse_str(first).is_ok() => 0,
        (Some(&"api"), Some(&"bins")) => 2,
        (Some(&"bins"), _) => 1,
        (Some(_), _) if !aliases => return Ok(pasted(None, None)),
        (Some(alias), _) => {
            crate::core::model::validate_alias(alias).map_err(|_| {
                wrong(&format!(
                    "{alias:?} is neither a bin id nor an alias (3-64 of a-z, 0-9, '-')"
                ))
            })?;
            return Ok(pasted(Some(BinRef::Alias((*alias).to_owned())), None));
        }
    };
    let Some(bin) = segments.get(after) else {
        return Ok(pasted(None, None));
    };
    let bin = bin_ref(bin).map_err(|why| wrong(&why))?;
    if after == 0 {
        // The rest of a capture URL is the sender's sub-path.
        return Ok(pasted(Some(bin), None));
    }
    let request = match (segments.get(after + 1), segments.get(after + 2)) {
        (Some(&"requests"), Some(id)) => Some(request_id(id).map_err(|why| wrong(&why))?),
        _ => form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "r")
            .map(|(_, v)| request_id(&v))
            .transpose()
            .map_err(|why| wrong(&why))?,
    };
    Ok(pasted(Some(bin), request))
}

fn bin_ref(text: &str) -> Result<BinRef, String> {
    if let Ok(id) = Uuid::parse_str(text) {
        return Ok(BinRef::Id(id));
    }
    crate::core::model::validate_alias(text)
        .map(|()| BinRef::Alias(text.to_owned()))
        .map_err(|_| format!("{text:?} is neither a bin id nor an alias"))
}

fn request_id(text: &str) -> Result<i64, String> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| format!("{text:?} is not a request id (a number)"))
}

/// The URL of an app given as `3000`, `:3000`, `localhost:3000`,
/// `host:port/path` or a whole `http(s)://` URL: a bare port means this
/// machine (`http://localhost:3000`), a missing scheme means `http://`.
/// `flag` names the option in the error.
pub fn app_url(flag: &str, text: &str) -> Result<String, String> {
    let text = text.trim();
    let wrong = || {
        format!(
            "{flag} {text:?} is not an app's address: write a port (3000), HOST:PORT \
             (localhost:3000) or a URL (http://localhost:3000/webhooks)"
        )
    };
    if let Some((scheme, rest)) = text.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
            || host_port(authority).is_none()
        {
            return Err(wrong());
        }
        return Ok(text.to_owned());
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return port(text)
            .map(|p| format!("http://localhost:{p}"))
            .ok_or_else(wrong);
    }
    let (authority, path) = match text.find(['/', '?']) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    // `:3000/hooks` and `3000/hooks` are a port on this machine (a host
    // of digits alone would be an IPv4 number, never what was meant).
    let authority = match authority.strip_prefix(':') {
        Some(p) => format!("localhost:{p}"),
        None if authority.bytes().all(|b| b.is_ascii_digit()) => format!("localhost:{authority}"),
        None => authority.to_owned(),
    };
    host_port(&authority).ok_or_else(wrong)?;
    Ok(format!("http://{authority}{path}"))
}

/// `Some` for `host`, `host:port` or `[v6]:port` with a usable port.
fn host_port(authority: &str) -> Option<()> {
    let (host, port_text) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    if let Some(p) = port_text {
        port(p)?;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    ok.then_some(())
}

fn port(text: &str) -> Option<u16> {
    text.parse::<u16>().ok().filter(|p| *p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "8d5c2f3e-1b7a-4c2d-9e0f-123456789abc";

    fn id() -> BinRef {
        BinRef::Id(Uuid::parse_str(ID).expect("uuid"))
    }

    fn read(text: &str) -> (String, Option<BinRef>, Option<i64>) {
        let p = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        (p.server, p.bin, p.request)
    }

    #[test]
    fn capture_urls_by_id_or_alias() {
        let h = "http://h:8080".to_owned();
        assert_eq!(read(&format!("{h}/{ID}")), (h.clone(), Some(id()), None));
        assert_eq!(read(&format!("{h}/{ID}/")), (h.clone(), Some(id()), None));
        assert_eq!(
            read(&format!("{h}/{ID}/any/sub/path?x=1")),
            (h.clone(), Some(id()), None)
        );
        // A sub-path that happens to say "bins" is still the capture URL's.
        assert_eq!(
            read(&format!("{h}/{ID}/bins/7")),
            (h.clone(), Some(id()), None)
        );
        let alias = Some(BinRef::Alias("eden-dev".into()));
        assert_eq!(
            read("http://h/eden-dev"),
            ("http://h".into(), alias.clone(), None)
        );
        assert_eq!(
            read("http://h/eden-dev/x/y"),
            ("http://h".into(), alias, None)
        );
        assert_eq!(
            read(&format!(" HTTPS://h.example.com/{ID} ")),
            ("https://h.example.com".into(), Some(id()), None)
        );
    }

    #[test]
    fn inspector_and_request_urls() {
        let h = "http://127.0.0.1:8080".to_owned();
        assert_eq!(
            read(&format!("{h}/bins/{ID}")),
            (h.clone(), Some(id()), None)
        );
        assert_eq!(
            read(&format!("{h}/bins/{ID}?r=7")),
            (h.clone(), Some(id()), Some(7))
        );
        assert_eq!(
            read(&format!("{h}/bins/{ID}?q=method%3DPOST&r=12#top")),
            (h.clone(), Some(id()), Some(12))
        );
        assert_eq!(
            read(&format!("{h}/bins/{ID}/requests/3/detail")),
            (h.clone(), Some(id()), Some(3))
        );
        assert_eq!(
            read(&format!("{h}/bins/eden-dev")),
            (h.clone(), Some(BinRef::Alias("eden-dev".into())), None)
        );
    }

    #[test]
    fn api_urls() {
        let h = "http://h:1".to_owned();
        assert_eq!(
            read(&format!("{h}/api/bins/{ID}")),
            (h.clone(), Some(id()), None)
        );
        assert_eq!(
            read(&format!("{h}/api/bins/{ID}/requests/42")),
            (h.clone(), Some(id()), Some(42))
        );
        assert_eq!(
            read(&format!("{h}/api/bins/{ID}/requests/42/body")),
            (h.clone(), Some(id()), Some(42))
        );
        assert_eq!(
            read(&format!("{h}/api/bins/{ID}/requests?after=3")),
            (h.clone(), Some(id()), None)
        );
        assert_eq!(read(&format!("{h}/api/bins")), (h.clone(), None, None));
    }

    #[test]
    fn server_urls() {
        assert_eq!(read("http://h:8080"), ("http://h:8080".into(), None, None));
        assert_eq!(read("http://h:8080/"), ("http://h:8080".into(), None, None));
        assert_eq!(
            read("http://h:8080/bins"),
            ("http://h:8080".into(), None, None)
        );
        assert_eq!(server("http://h:8080/bins").as_deref(), Ok("http://h:8080"));
        assert_eq!(
            server(&format!("http://h:8080/bins/{ID}?r=2")).as_deref(),
            Ok("http://h:8080")
        );
    }

    #[test]
    fn the_server_is_the_origin() {
        assert_eq!(
            server("https://h.example.com/anything/else?x=1").as_deref(),
            Ok("https://h.example.com")
        );
        assert_eq!(
            server("http://h/eden-dev/x").as_deref(),
            Ok("http://h"),
            "an alias URL's server"
        );
    }

    #[test]
    fn what_is_missing_is_said() {
        let p = parse("http://h:8080").expect("server");
        assert!(p.bin().expect_err("no bin").contains("no bin"));
        let p = parse(&format!("http://h/bins/{ID}")).expect("bin");
        let e = p.request().expect_err("no request");
        assert!(e.contains(&format!("http://h/bins/{ID}?r=<id>")), "{e}");
        assert_eq!(
            parse(&format!("http://h/bins/{ID}?r=9"))
                .expect("request")
                .request(),
            Ok((&id(), 9))
        );
    }

    #[test]
    fn garbage_is_refused_in_words() {
        for bad in [
            "",
            "h:8080/abc",
            "ftp://h/x",
            "http:///x",
            "http://h/Not_An_Alias",
            "http://h/bins/NOPE!",
            &format!("http://h/bins/{ID}?r=x"),
            &format!("http://h/api/bins/{ID}/requests/-1"),
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains("is not a hookwire URL"), "{bad}: {e}");
        }
    }

    #[test]
    fn app_urls() {
        let ok = |t: &str| app_url("--to", t).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(ok("3000"), "http://localhost:3000");
        assert_eq!(ok(":3000"), "http://localhost:3000");
        assert_eq!(ok(":3000/hooks"), "http://localhost:3000/hooks");
        assert_eq!(ok("3000/hooks?x=1"), "http://localhost:3000/hooks?x=1");
        assert_eq!(ok("localhost:3000"), "http://localhost:3000");
        assert_eq!(ok("127.0.0.1:18090/a/b"), "http://127.0.0.1:18090/a/b");
        assert_eq!(ok("[::1]:3000"), "http://[::1]:3000");
        assert_eq!(ok("app.internal"), "http://app.internal");
        assert_eq!(ok("http://localhost:3000/x"), "http://localhost:3000/x");
        assert_eq!(ok("https://example.com"), "https://example.com");
        for bad in [
            "",
            "0",
            "70000",
            ":",
            ":abc",
            "foo bar",
            "ftp://x",
            "http://",
            "localhost:port",
        ] {
            let e = app_url("--to", bad).expect_err(bad);
            assert!(
                e.starts_with("--to ") && e.contains("write a port (3000)"),
                "{e}"
            );
        }
    }
}
