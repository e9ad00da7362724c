//! What a token (or a proxy's user) may do on a team instance (SPEC §16):
//! four scopes, each including the ones before it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A token's scope. The order is the inclusion: `Admin` may do everything
/// `Write` may, and so on down to `Read`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The inspector, API reads, `tail`, `wait`.
    Read,
    /// `read`, and connecting tunnels.
    Tunnel,
    /// `tunnel`, and every change to bins: responses, rules, secrets,
    /// schemas, aliases, replay, import, delete.
    Write,
    /// `write`, and tokens and the audit log.
    Admin,
}

impl Scope {
    /// Every scope, from the least to the most.
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Tunnel, Scope::Write, Scope::Admin];

    /// The scope's name, as written in flags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Tunnel => "tunnel",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    /// Reads a scope's name (as stored).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// True when this scope may do what `needed` allows.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Scope;

    #[test]
    fn each_scope_includes_the_ones_before() {
        assert!(Scope::Admin.allows(Scope::Write));
        assert!(Scope::Write.allows(Scope::Tunnel));
        assert!(Scope::Tunnel.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Tunnel));
        assert!(!Scope::Write.allows(Scope::Admin));
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
    }
}
