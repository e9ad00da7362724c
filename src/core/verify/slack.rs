//! Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 over
//! `v0:{X-Slack-Request-Timestamp}:{body}` with the signing secret;
//! 5 minutes.

use super::{Failure, Signed, expect_mac, hmac_sha256};

const SIGNATURE: &str = "x-slack-signature";
const TIMESTAMP: &str = "x-slack-request-timestamp";

/// Verifies one request.
pub fn verify(secret: &str, req: &Signed<'_>) -> Result<(), Failure> {
    let value = req.require(SIGNATURE)?;
    let ts = req.require(TIMESTAMP)?;
    let sig = value
        .trim()
        .strip_prefix("v0=")
        .ok_or_else(|| Failure::Malformed(SIGNATURE.into(), "expected v0=<hex>".into()))?;
    let sig = hex::decode(sig)
        .map_err(|_| Failure::Malformed(SIGNATURE.into(), "the signature is not hex".into()))?;
    req.fresh(TIMESTAMP, ts)?;
    let expected = hmac_sha256(
        secret.as_bytes(),
        &[b"v0:", ts.trim().as_bytes(), b":", req.body],
    );
    expect_mac(&sig, &expected)
}

/// The `X-Slack-Signature` value for `body` sent at Unix time `ts` (what
/// `hookwire send --as slack` signs with).
pub fn sign(secret: &str, ts: i64, body: &[u8]) -> String {
    let mac = hmac_sha256(
        secret.as_bytes(),
        &[b"v0:", ts.to_string().as_bytes(), b":", body],
    );
    format!("v0={}", hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's documented example ("Verifying requests from Slack").
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: i64 = 1531420618;
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn check(headers: &[(&str, &str)], body: &[u8], at: i64) -> Result<(), Failure> {
        let h: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        verify(
            SECRET,
            &Signed {
                headers: &h,
                body,
                received_at: at * 1000,
                url: "",
            },
        )
    }

    #[test]
    fn published_vector() {
        let ts = TS.to_string();
        let h = [(SIGNATURE, SIG), (TIMESTAMP, ts.as_str())];
        assert_eq!(check(&h, BODY, TS), Ok(()));
        assert_eq!(check(&h, b"token=other", TS), Err(Failure::BadSignature));
        assert_eq!(check(&h, BODY, TS + 3600), Err(Failure::Stale(-3600)));
        assert_eq!(
            check(&[(SIGNATURE, SIG)], BODY, TS),
            Err(Failure::MissingHeader(TIMESTAMP.into()))
        );
    }

    #[test]
    fn signing_gives_the_published_vector() {
        assert_eq!(sign(SECRET, TS, BODY), SIG);
    }
}
