//! Twilio: `X-Twilio-Signature`, base64 HMAC (SHA-1, or SHA-256 when
//! `X-Twilio-Webhooks-Signature-Settings` says `algorithm=HMAC_SHA256`)
//! keyed with the auth token, over the full public URL followed by the
//! sorted form parameters (each name then its sorted values). JSON bodies
//! are signed over the URL alone, which carries `bodySHA256`, the hex
//! SHA-256 of the body. Like Twilio's SDKs, the URL is tried with and
//! without its port.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use super::{Failure, Signed, hmac_sha1, hmac_sha256, same};

const HEADER: &str = "x-twilio-signature";
const SETTINGS: &str = "x-twilio-webhooks-signature-settings";

/// The URL with its port removed, and with the scheme's default port added
/// when it has none (what Twilio's validators compare against).
fn url_variants(url: &str) -> [String; 2] {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let (authority, tail) = rest
        .find(['/', '?'])
        .map_or((rest, ""), |i| rest.split_at(i));
    let (host, port) = authority
        .split_once(':')
        .map_or((authority, None), |(h, p)| (h, Some(p)));
    let without = format!("{scheme}://{host}{tail}");
    let with = match port {
        Some(_) => url.to_owned(),
        None => {
            let default = if scheme == "https" { 443 } else { 80 };
            format!("{scheme}://{host}:{default}{tail}")
        }
    };
    [without, with]
}

/// `name` + values, names and values sorted and de-duplicated.
fn form_data(body: &[u8]) -> String {
    let mut params: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        params
            .entry(k.into_owned())
            .or_default()
            .insert(v.into_owned());
    }
    params
        .into_iter()
        .flat_map(|(k, vs)| vs.into_iter().map(move |v| format!("{k}{v}")))
        .collect()
}

/// Verifies one request.
pub fn verify(secret: &str, req: &Signed<'_>) -> Result<(), Failure> {
    let value = req.require(HEADER)?;
    let sig = STANDARD
        .decode(value.trim())
        .map_err(|_| Failure::Malformed(HEADER.into(), "the signature is not base64".into()))?;
    let sha256 = req
        .header(SETTINGS)
        .is_some_and(|s| s.split(',').any(|p| p.trim() == "algorithm=HMAC_SHA256"));
    let body_hash =
        form_urlencoded::parse(req.url.split_once('?').map_or("", |(_, q)| q).as_bytes())
            .find(|(k, _)| k == "bodySHA256")
            .map(|(_, v)| v.into_owned());
    let params = match &body_hash {
        Some(expected) => {
            let actual = hex::encode(Sha256::digest(req.body));
            if !same(actual.as_bytes(), expected.to_ascii_lowercase().as_bytes()) {
                return Err(Failure::BadSignature);
            }
            String::new()
        }
        None => {
            let form = req
                .header("content-type")
                .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
            if form {
                form_data(req.body)
            } else {
                String::new()
            }
        }
    };
    let key = secret.trim().as_bytes();
    let matches = url_variants(req.url).iter().any(|url| {
        let parts: [&[u8]; 2] = [url.as_bytes(), params.as_bytes()];
        let mac = if sha256 {
            hmac_sha256(key, &parts)
        } else {
            hmac_sha1(key, &parts)
        };
        same(&mac, &sig)
    });
    if matches {
        Ok(())
    } else {
        Err(Failure::BadSignature)
    }
}

/// The `X-Twilio-Signature` (HMAC-SHA1, Twilio's default) for a form
/// `body` posted to `url`, exactly as Twilio was given the URL (what
/// `hookwire send --as twilio` signs with).
pub fn sign(token: &str, url: &str, body: &[u8]) -> String {
    let params = form_data(body);
    STANDARD.encode(hmac_sha1(
        token.trim().as_bytes(),
        &[url.as_bytes(), params.as_bytes()],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const BODY: &[u8] =
        b"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";

    fn check(headers: Vec<(String, String)>, body: &[u8], url: &str) -> Result<(), Failure> {
        verify(
            TOKEN,
            &Signed {
                headers: &headers,
                body,
                received_at: 0,
                url,
            },
        )
    }

    fn form(sig: &str) -> Vec<(String, String)> {
        vec![
            (HEADER.into(), sig.into()),
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
        ]
    }

    /// Twilio's documented example ("Validating signatures from Twilio"),
    /// reproduced by its Python SDK's RequestValidator.compute_signature.
    #[test]
    fn published_vector() {
        assert_eq!(
            check(form("0/KCTR6DLpKmkAf8muzZqo1nDgQ="), BODY, URL),
            Ok(())
        );
        // With an explicit default port, as Twilio's validators also accept.
        assert_eq!(
            check(
                form("0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
                BODY,
                "https://mycompany.com:443/myapp.php?foo=1&bar=2"
            ),
            Ok(())
        );
        assert_eq!(
            check(form("0/KCTR6DLpKmkAf8muzZqo1nDgQ="), b"CallSid=CA1", URL),
            Err(Failure::BadSignature)
        );
    }

    #[test]
    fn json_bodies_are_signed_by_hash_in_the_url() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let hash = hex::encode(Sha256::digest(body));
        let url = format!("https://mycompany.com/myapp?bodySHA256={hash}");
        let sig = STANDARD.encode(hmac_sha1(TOKEN.as_bytes(), &[url.as_bytes()]));
        let h = vec![(HEADER.to_string(), sig)];
        assert_eq!(check(h.clone(), body, &url), Ok(()));
        assert_eq!(check(h, b"{}", &url), Err(Failure::BadSignature));
    }

    #[test]
    fn url_variants_add_and_remove_ports() {
        assert_eq!(
            url_variants("https://h.example.com/a?b=1"),
            [
                "https://h.example.com/a?b=1".to_string(),
                "https://h.example.com:443/a?b=1".to_string()
            ]
        );
        assert_eq!(
            url_variants("http://127.0.0.1:8080/x"),
            [
                "http://127.0.0.1/x".to_string(),
                "http://127.0.0.1:8080/x".to_string()
            ]
        );
    }

    #[test]
    fn signing_gives_the_published_vector() {
        assert_eq!(sign(TOKEN, URL, BODY), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    }
}
