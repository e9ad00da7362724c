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
}
