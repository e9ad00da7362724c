//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body
//! keyed with the webhook secret. No timestamp.

use super::{Failure, Signed, expect_mac, hmac_sha256};

const HEADER: &str = "x-hub-signature-256";

/// Verifies one request.
pub fn verify(secret: &str, req: &Signed<'_>) -> Result<(), Failure> {
    let value = req.require(HEADER)?;
    let sig = value
        .trim()
        .strip_prefix("sha256=")
        .ok_or_else(|| Failure::Malformed(HEADER.into(), "expected sha256=<hex>".into()))?;
    let sig = hex::decode(sig)
        .map_err(|_| Failure::Malformed(HEADER.into(), "the signature is not hex".into()))?;
    expect_mac(&sig, &hmac_sha256(secret.as_bytes(), &[req.body]))
}

/// The `X-Hub-Signature-256` and legacy `X-Hub-Signature` values GitHub
/// sends for `body` (what `hookwire send --as github` signs with).
pub fn sign(secret: &str, body: &[u8]) -> (String, String) {
    (
        format!(
            "sha256={}",
            hex::encode(hmac_sha256(secret.as_bytes(), &[body]))
        ),
        format!(
            "sha1={}",
            hex::encode(super::hmac_sha1(secret.as_bytes(), &[body]))
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(secret: &str, header: &str, body: &[u8]) -> Result<(), Failure> {
        let h = vec![(HEADER.to_string(), header.to_string())];
        verify(
            secret,
            &Signed {
                headers: &h,
                body,
                received_at: 0,
                url: "",
            },
        )
    }

    /// GitHub's documented example ("Validating webhook deliveries").
    #[test]
    fn published_vector() {
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            check("It's a Secret to Everybody", header, b"Hello, World!"),
            Ok(())
        );
        assert_eq!(
            check("It's a Secret to Everybody", header, b"Hello, World?"),
            Err(Failure::BadSignature)
        );
        assert_eq!(
            check("wrong", header, b"Hello, World!"),
            Err(Failure::BadSignature)
        );
        assert!(matches!(
            check("s", "sha1=abc", b""),
            Err(Failure::Malformed(..))
        ));
        assert!(matches!(
            check("s", "sha256=zz", b""),
            Err(Failure::Malformed(..))
        ));
    }

    #[test]
    fn signing_gives_the_published_vector() {
        let (sha256, sha1) = sign("It's a Secret to Everybody", b"Hello, World!");
        assert_eq!(
            sha256,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert!(sha1.starts_with("sha1=") && sha1.len() == 5 + 40);
    }
}
