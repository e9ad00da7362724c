//! The verification secrets a bin holds, as set by `PUT …/secrets`. Never
//! shown back in full, never in logs (`Debug` masks them).

use serde::{Deserialize, Serialize};

/// A static header rule: `name` must carry `value`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderRule {
    /// Header name (matched case-insensitively).
    #[schemars(schema_with = "crate::core::shapes::static_header_name")]
    pub name: String,
    /// The exact value.
    #[schemars(schema_with = "crate::core::shapes::static_header_value")]
    pub value: String,
}

/// One secret per scheme, any subset.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// `whsec_<base64>` (Standard Webhooks, Svix).
    #[serde(
        rename = "standard-webhooks",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::core::shapes::standard_webhooks_secret")]
    pub standard_webhooks: Option<String>,
    /// `whsec_…` endpoint secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::core::shapes::secret")]
    pub stripe: Option<String>,
    /// The webhook secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::core::shapes::secret")]
    pub github: Option<String>,
    /// The app's signing secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::core::shapes::secret")]
    pub slack: Option<String>,
    /// The app's client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::core::shapes::secret")]
    pub shopify: Option<String>,
    /// The account's auth token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::core::shapes::secret")]
    pub twilio: Option<String>,
    /// A static header (AssemblyAI's webhook_auth_header_name/value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderRule>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.schemes()).finish()
    }
}

/// Shows the last four characters of a secret at most, and only of a long one.
fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n < 12 {
        return "****".into();
    }
    let tail: String = secret.chars().skip(n - 4).collect();
    format!("****{tail}")
}

impl Secrets {
    /// The schemes that have a secret.
    pub fn schemes(&self) -> Vec<&'static str> {
        super::SCHEMES
            .iter()
            .filter(|scheme| (scheme.secret)(self).is_some())
            .map(|scheme| scheme.name)
            .chain(self.header.is_some().then_some(super::STATIC_HEADER))
            .collect()
    }

    /// Sets (`Some((secret, header_name))`) or removes (`None`) the secret
    /// of one scheme by its name; `header_name` is used by the static
    /// header scheme only.
    pub fn set(&mut self, scheme: &str, secret: Option<(String, String)>) -> Result<(), String> {
        if scheme == super::STATIC_HEADER {
            self.header = secret.map(|(value, name)| HeaderRule {
                name: name.trim().to_owned(),
                value,
            });
            return Ok(());
        }
        let keyed = super::SCHEMES
            .iter()
            .find(|s| s.name == scheme)
            .ok_or_else(|| format!("unknown scheme {scheme:?}"))?;
        *(keyed.secret_mut)(self) = secret.map(|(v, _)| v.trim().to_owned());
        Ok(())
    }

    /// True when the bin checks nothing.
    pub fn is_empty(&self) -> bool {
        // On every capture: no allocation.
        self.header.is_none() && super::SCHEMES.iter().all(|s| (s.secret)(self).is_none())
    }

    /// What may be shown: which schemes are set, masked.
    pub fn masked(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for scheme in &super::SCHEMES {
            if let Some(s) = (scheme.secret)(self) {
                out.insert(scheme.name.into(), mask(s).into());
            }
        }
        if let Some(h) = &self.header {
            out.insert(
                "header".into(),
                serde_json::json!({ "name": h.name, "value": mask(&h.value) }),
            );
        }
        out.into()
    }

    /// Checks what a user set, saying what to fix.
    pub fn validate(&self) -> Result<(), String> {
        for scheme in &super::SCHEMES {
            if (scheme.secret)(self).is_some_and(|s| s.trim().is_empty()) {
                return Err(format!(
                    "the {} secret is empty: leave it out instead",
                    scheme.name
                ));
            }
        }
        if let Some(s) = &self.standard_webhooks {
            super::standard_webhooks::key(s).map_err(|f| f.to_string())?;
        }
        let bad_header = self.header.as_ref().is_some_and(|h| {
            http::HeaderName::try_from(h.name.as_str()).is_err() || h.value.is_empty()
        });
        if bad_header {
            return Err("header needs a valid name and a non-empty value".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_never_debug_printed() {
        let s: Secrets = serde_json::from_str(
            r#"{"stripe":"whsec_abcdefghijklmnop","header":{"name":"X-Auth","value":"tok"}}"#,
        )
        .expect("parses");
        assert_eq!(format!("{s:?}"), r#"["stripe", "header"]"#);
        assert_eq!(
            s.masked(),
            serde_json::json!({"stripe": "****mnop", "header": {"name": "X-Auth", "value": "****"}})
        );
        assert!(serde_json::from_str::<Secrets>(r#"{"strpe":"x"}"#).is_err());
    }
}
