//! What a mail's OpenPGP signature proves.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::roster::{Member, Roster};

/// A good signature by a known key, and what it signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Made {
    /// The certificate's (primary key's) fingerprint, upper-case hex.
    pub fingerprint: String,
    pub signed_at: Timestamp,
    /// What was signed: a digest over the signer, the creation time and
    /// the hash the signature commits to (the signed bytes and the hashed
    /// subpackets). The same signature re-armored, re-encoded or with its
    /// unhashed area reshaped has the same one: it is a replay.
    pub digest: String,
    /// The replay keys of other good signatures beside it (two members
    /// signed the same part): all are spent with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// Made over binary data (signature type 0x00), not as text: over a
    /// MIME entity that is how mail programs sign; over plain text it is a
    /// signed file or a git commit, not a mail.
    #[serde(default, skip_serializing)]
    pub binary: bool,
}

impl Made {
    /// Every replay key this sighting spends.
    pub fn digests(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.digest).chain(&self.also)
    }
}

/// The verdict on a mail's signature, checked against the roster's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SignatureStatus {
    Unsigned,
    /// A good signature over the whole mail, by a key in the roster.
    Valid(Made),
    /// A signature that proves nothing about the mail: it covers only part
    /// of it, or the mail's structure can be read more than one way.
    /// `signed_by` is a good signature by a roster key over the part it
    /// covers: that member is told, and the signature is spent.
    #[serde(alias = "partial")]
    Unproven {
        detail: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signed_by: Option<Made>,
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
    /// The verdict as one word of a fixed set, for counting.
    pub fn label(&self) -> &'static str {
        match self {
            SignatureStatus::Unsigned => "unsigned",
            SignatureStatus::Valid(_) => "valid",
            SignatureStatus::Unproven { .. } => "unproven",
            SignatureStatus::Bad { .. } => "bad",
            SignatureStatus::UnknownKey { .. } => "unknown-key",
            SignatureStatus::KeyExpired { .. } => "key-expired",
            SignatureStatus::KeyRevoked { .. } => "key-revoked",
        }
    }

    /// The roster member whose key made a valid signature over the whole
    /// mail: the only thing that authenticates a sender.
    pub fn signer<'r>(&self, roster: &'r Roster) -> Option<&'r Member> {
        match self {
            SignatureStatus::Valid(made) => roster.person_by_fingerprint(&made.fingerprint),
            _ => None,
        }
    }

    /// A good signature by a known key anywhere in the mail: once seen, it
    /// is spent, whether or not it proved anything.
    pub fn made(&self) -> Option<&Made> {
        match self {
            SignatureStatus::Valid(made) => Some(made),
            SignatureStatus::Unproven { signed_by, .. } => signed_by.as_ref(),
            _ => None,
        }
    }

    /// A status that proves nothing, for the reason given; a good signature
    /// over part of the mail is kept to tell its signer.
    pub fn unproven(detail: impl Into<String>, inner: SignatureStatus) -> SignatureStatus {
        SignatureStatus::Unproven {
            detail: detail.into(),
            signed_by: match inner {
                SignatureStatus::Valid(made) => Some(made),
                _ => None,
            },
        }
    }
}

impl std::fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureStatus::Unsigned => f.write_str("not signed"),
            SignatureStatus::Valid(made) => write!(
                f,
                "good signature by {}, made {}",
                made.fingerprint,
                made.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            ),
            SignatureStatus::Unproven { detail, signed_by } => {
                write!(f, "the signature proves nothing: {detail}")?;
                match signed_by {
                    Some(made) => write!(f, " (a good signature by {} inside)", made.fingerprint),
                    None => Ok(()),
                }
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
        let valid = |fp: &str| {
            SignatureStatus::Valid(Made {
                fingerprint: fp.into(),
                signed_at: Timestamp::UNIX_EPOCH,
                digest: "d".into(),
                also: vec![],
                binary: false,
            })
        };
        assert_eq!(
            valid(&"AAAA".repeat(10)).signer(&r).unwrap().email,
            "alice@example.org"
        );
        assert!(valid(&"BBBB".repeat(10)).signer(&r).is_none());
        for other in [
            SignatureStatus::Unsigned,
            SignatureStatus::unproven("x", valid(&"AAAA".repeat(10))),
            SignatureStatus::Bad { detail: "x".into() },
            SignatureStatus::KeyRevoked {
                fingerprint: "AAAA".repeat(10),
            },
        ] {
            assert!(other.signer(&r).is_none(), "{other}");
        }
        // A legacy row reads as proving nothing.
        let legacy: SignatureStatus =
            serde_json::from_str(r#"{"status":"partial","detail":"old"}"#).unwrap();
        assert_eq!(
            legacy,
            SignatureStatus::unproven("old", SignatureStatus::Unsigned)
        );
    }
}
