//! Shopify: `X-Shopify-Hmac-Sha256`, base64 of HMAC-SHA256 of the body
//! keyed with the app's client secret. No timestamp.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Failure, Signed, expect_mac, hmac_sha256};

const HEADER: &str = "x-shopify-hmac-sha256";

/// Verifies one request.
pub fn verify(secret: &str, req: &Signed<'_>) -> Result<(), Failure> {
    let value = req.require(HEADER)?;
    let sig = STANDARD
        .decode(value.trim())
        .map_err(|_| Failure::Malformed(HEADER.into(), "the signature is not base64".into()))?;
    expect_mac(&sig, &hmac_sha256(secret.as_bytes(), &[req.body]))
}

/// The `X-Shopify-Hmac-Sha256` value for `body` (what `hookwire send --as
/// shopify` signs with).
pub fn sign(secret: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(secret.as_bytes(), &[body]))
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

    /// Computed as Shopify's docs do it:
    /// `base64(hmac_sha256(secret, body))` with openssl:
    /// `printf '{"id":1}' | openssl dgst -sha256 -hmac hush -binary | base64`.
    #[test]
    fn vector_and_failures() {
        let sig = STANDARD.encode(hmac_sha256(b"hush", &[br#"{"id":1}"#]));
        assert_eq!(check("hush", &sig, br#"{"id":1}"#), Ok(()));
        assert_eq!(
            check("hush", &sig, br#"{"id":2}"#),
            Err(Failure::BadSignature)
        );
        assert!(matches!(
            check("hush", "%%%", b""),
            Err(Failure::Malformed(..))
        ));
    }

    #[test]
    fn signing_verifies() {
        assert_eq!(
            check("hush", &sign("hush", br#"{"id":1}"#), br#"{"id":1}"#),
            Ok(())
        );
    }
}
