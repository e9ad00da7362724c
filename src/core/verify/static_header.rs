//! A static header: a configured header must carry a configured value, as
//! AssemblyAI's `webhook_auth_header_name` / `webhook_auth_header_value` do.

use super::secrets::HeaderRule;
use super::{Failure, Signed, expect_mac};

/// Verifies one request.
pub fn verify(rule: &HeaderRule, req: &Signed<'_>) -> Result<(), Failure> {
    let name = rule.name.to_ascii_lowercase();
    let value = req.require(&name)?;
    expect_mac(value.as_bytes(), rule.value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_must_match() {
        let rule = HeaderRule {
            name: "X-Auth".into(),
            value: "tok".into(),
        };
        let check = |h: Vec<(String, String)>| {
            verify(
                &rule,
                &Signed {
                    headers: &h,
                    body: b"",
                    received_at: 0,
                    url: "",
                },
            )
        };
        assert_eq!(check(vec![("x-auth".into(), "tok".into())]), Ok(()));
        assert_eq!(
            check(vec![("x-auth".into(), "nope".into())]),
            Err(Failure::BadSignature)
        );
        assert_eq!(check(vec![]), Err(Failure::MissingHeader("x-auth".into())));
    }
}
