//! What a mail's OpenPGP signature proves.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::roster::{Member, Roster};

/// The verdict on a mail's signature, checked against the roster's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SignatureStatus {
    Unsigned,
    /// A good signature over the whole mail, by a key in the roster.
    Valid {
        /// The certificate's (primary key's) fingerprint, upper-case hex.
        fingerprint: String,
        signed_at: Timestamp,
        /// SHA-256 of the signature packet: the same signature seen twice is a replay.
        digest: String,
    },
    /// A good or bad signature that covers only part of the mail.
    Partial {
        detail: String,
    },
    /// The signature does not match the mail, or is not acceptable.
    Bad {
        detail: String,
    },
    /// Signed by a key the roster does not have.
    UnknownKey {
        issuer: Option<String>,
    },
    KeyExpired {
        fingerprint: String,
    },
    KeyRevoked {
        fingerprint: String,
    },
}

impl SignatureStatus {
    /// The roster member whose key made a valid signature over the whole
    /// mail: the only thing that authenticates a sender.
    pub fn signer<'r>(&self, roster: &'r Roster) -> Option<&'r Member> {
        match self {
            SignatureStatus::Valid { fingerprint, .. } => roster.person_by_fingerprint(fingerprint),
            _ => None,
        }
    }
}

impl std::fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureStatus::Unsigned => f.write_str("not signed"),
            SignatureStatus::Valid {
                fingerprint,
                signed_at,
                ..
            } => write!(
                f,
                "good signature by {fingerprint}, made {}",
                signed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            ),
            SignatureStatus::Partial { detail } => {
                write!(f, "a signature covers only part of the mail ({detail})")
            }
            SignatureStatus::Bad { detail } => write!(f, "bad signature: {detail}"),
            SignatureStatus::UnknownKey { issuer } => write!(
                f,
                "signed by a key not in the roster ({})",
                issuer.as_deref().unwrap_or("no issuer given")
            ),
            SignatureStatus::KeyExpired { fingerprint } => {
                write!(f, "signed by the expired key {fingerprint}")
            }
            SignatureStatus::KeyRevoked { fingerprint } => {
                write!(f, "signed by the revoked key {fingerprint}")
            }
        }
    }
}

/// Whether a mail came encrypted, and what became of that.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Encryption {
    #[default]
    None,
    /// Decrypted with the list key; the raw mail keeps the ciphertext.
    Decrypted,
    /// Encrypted, but not to a key the service holds, or broken.
    Failed { detail: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::roster::Rotation;

    fn roster() -> Roster {
        Roster {
            members: vec![Member {
                name: "Alice".into(),
                email: "alice@example.org".into(),
                company: "A".into(),
                fingerprint: Some("AAAA".repeat(10)),
                on_leave: false,
            }],
            release_managers: vec![],
            rotation: Rotation {
                members: vec![],
                starts: jiff::civil::date(2026, 1, 5),
                shift_days: 7,
            },
        }
    }

    #[test]
    fn only_a_valid_signature_by_a_roster_key_names_a_signer() {
        let r = roster();
        let valid = |fp: &str| SignatureStatus::Valid {
            fingerprint: fp.into(),
            signed_at: Timestamp::UNIX_EPOCH,
            digest: "d".into(),
        };
        assert_eq!(
            valid(&"AAAA".repeat(10)).signer(&r).unwrap().email,
            "alice@example.org"
        );
        assert!(valid(&"BBBB".repeat(10)).signer(&r).is_none());
        for other in [
            SignatureStatus::Unsigned,
            SignatureStatus::Partial { detail: "x".into() },
            SignatureStatus::Bad { detail: "x".into() },
            SignatureStatus::KeyRevoked {
                fingerprint: "AAAA".repeat(10),
            },
        ] {
            assert!(other.signer(&r).is_none(), "{other}");
        }
    }
}
