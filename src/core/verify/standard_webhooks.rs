//! Standard Webhooks (and Svix, its origin): `webhook-id`,
//! `webhook-timestamp`, `webhook-signature` (or the `svix-` names). The
//! signature header is a space-separated list of `v1,<base64>`; any may
//! match. HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with the
//! base64-decoded part of the `whsec_` secret; ±5 minutes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Failure, Signed, hmac_sha256, same};

/// The HMAC key inside a `whsec_` secret.
pub fn key(secret: &str) -> Result<Vec<u8>, Failure> {
    let encoded = secret
        .trim()
        .strip_prefix("whsec_")
        .unwrap_or(secret.trim());
    STANDARD.decode(encoded).map_err(|_| {
        Failure::SecretFormat("a Standard Webhooks secret is whsec_ followed by base64".into())
    })
}

/// The `webhook-signature` value for a message `id` sent at Unix time
/// `ts` (what `hookwire send --as standard-webhooks` signs with).
pub fn sign(secret: &str, id: &str, ts: i64, body: &[u8]) -> Result<String, Failure> {
    let mac = hmac_sha256(
        &key(secret)?,
        &[id.as_bytes(), b".", ts.to_string().as_bytes(), b".", body],
    );
    Ok(format!("v1,{}", STANDARD.encode(mac)))
}

/// Verifies one request.
pub fn verify(secret: &str, req: &Signed<'_>) -> Result<(), Failure> {
    let prefix = if req.header("webhook-signature").is_some() {
        "webhook"
    } else {
        "svix"
    };
    let id = req.require(&format!("{prefix}-id"))?;
    let ts_header = format!("{prefix}-timestamp");
    let ts = req.require(&ts_header)?;
    let sig_header = format!("{prefix}-signature");
    let sigs = req.require(&sig_header)?;
    let key = key(secret)?;
    req.fresh(&ts_header, ts)?;
    let expected = hmac_sha256(
        &key,
        &[id.as_bytes(), b".", ts.trim().as_bytes(), b".", req.body],
    );
    let mut any_v1 = false;
    for entry in sigs.split_whitespace() {
        let Some((version, sig)) = entry.split_once(',') else {
            continue;
        };
        if version != "v1" {
            continue;
        }
        any_v1 = true;
        if STANDARD.decode(sig).is_ok_and(|s| same(&s, &expected)) {
            return Ok(());
        }
    }
    if !any_v1 {
        return Err(Failure::Malformed(
            sig_header,
            "no v1,<base64> signature".into(),
        ));
    }
    Err(Failure::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in the Standard Webhooks specification and libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(prefix: &str, sig: &str) -> Vec<(String, String)> {
        vec![
            (format!("{prefix}-id"), ID.into()),
            (format!("{prefix}-timestamp"), TS.to_string()),
            (format!("{prefix}-signature"), sig.into()),
        ]
    }

    fn req<'a>(h: &'a [(String, String)], body: &'a [u8], at: i64) -> Signed<'a> {
        Signed {
            headers: h,
            body,
            received_at: at * 1000,
            url: "",
        }
    }

    #[test]
    fn published_vector_verifies_with_both_header_names() {
        for prefix in ["webhook", "svix"] {
            let h = headers(prefix, &format!("v1,bogus= {SIG}"));
            assert_eq!(verify(SECRET, &req(&h, BODY, TS)), Ok(()), "{prefix}");
        }
    }

    #[test]
    fn each_failure_has_its_reason() {
        let h = headers("webhook", SIG);
        assert_eq!(
            verify(SECRET, &req(&h, b"{\"test\": 1}", TS)),
            Err(Failure::BadSignature)
        );
        assert_eq!(
            verify(SECRET, &req(&h, BODY, TS + 301)),
            Err(Failure::Stale(-301))
        );
        assert!(matches!(
            verify("whsec_%%%", &req(&h, BODY, TS)),
            Err(Failure::SecretFormat(_))
        ));
        let missing = &h[1..];
        assert_eq!(
            verify(SECRET, &req(missing, BODY, TS)),
            Err(Failure::MissingHeader("webhook-id".into()))
        );
        let v2 = headers("webhook", "v2,abc");
        assert!(matches!(
            verify(SECRET, &req(&v2, BODY, TS)),
            Err(Failure::Malformed(..))
        ));
    }

    #[test]
    fn signing_gives_the_published_vector() {
        assert_eq!(sign(SECRET, ID, TS, BODY), Ok(SIG.to_string()));
        assert!(sign("whsec_%%%", ID, TS, BODY).is_err());
    }
}
