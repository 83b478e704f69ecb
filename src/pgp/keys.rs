//! Certificates on disk: the list's secret key and the roster's public keys.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use jiff::Timestamp;
use openpgp::Cert;
use openpgp::cert::CertParser;
use openpgp::cert::prelude::*;
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::SerializeInto;
use openpgp::types::RevocationStatus;
use sequoia_openpgp as openpgp;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is readable by group or others (mode {mode:o}); the list's secret key must be private: run `chmod 600 {path}`",
        path = .path.display()
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{path} holds no OpenPGP key I can read: {detail}", path = .path.display())]
    Parse { path: PathBuf, detail: String },
    #[error(
        "{path} holds a public key only; the service needs the secret key (as `embargo keys generate` writes it)",
        path = .path.display()
    )]
    NotSecret { path: PathBuf },
    #[error("cannot make a key: {0}")]
    Generate(String),
}

pub(crate) fn system_time(t: Timestamp) -> SystemTime {
    SystemTime::try_from(t).unwrap_or(SystemTime::UNIX_EPOCH)
}

/// A new list key: an Ed25519 primary for certification, an Ed25519
/// signing subkey and a Cv25519 encryption subkey, without expiry.
pub fn generate(userid: &str, now: Timestamp) -> Result<Cert, KeyError> {
    let (cert, _revocation) = CertBuilder::new()
        .set_cipher_suite(CipherSuite::Cv25519)
        .set_creation_time(system_time(now))
        .add_userid(userid)
        .add_signing_subkey()
        .add_subkey(
            openpgp::types::KeyFlags::empty()
                .set_transport_encryption()
                .set_storage_encryption(),
            None,
            None,
        )
        .generate()
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    Ok(cert)
}

pub fn secret_armored(cert: &Cert) -> Vec<u8> {
    cert.as_tsk()
        .armored()
        .to_vec()
        .expect("serializing to memory does not fail")
}

pub fn public_armored(cert: &Cert) -> Vec<u8> {
    cert.armored()
        .to_vec()
        .expect("serializing to memory does not fail")
}

/// Reads the list's secret key, refusing a file others can read.
pub fn load_secret(path: &Path) -> Result<Cert, KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    let cert = Cert::from_file(path).map_err(|e| KeyError::Parse {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    if !cert.is_tsk() {
        return Err(KeyError::NotSecret {
            path: path.to_owned(),
        });
    }
    Ok(cert)
}

/// Reads every certificate in an armored or binary file, or in every file
/// of a directory.
pub fn load_certs(path: &Path) -> Result<Vec<Cert>, KeyError> {
    let read_err = |source| KeyError::Read {
        path: path.to_owned(),
        source,
    };
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read_err)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_owned()]
    };
    let mut certs = Vec::new();
    for file in files {
        let parser = CertParser::from_file(&file).map_err(|e| KeyError::Parse {
            path: file.clone(),
            detail: e.to_string(),
        })?;
        for cert in parser {
            certs.push(cert.map_err(|e| KeyError::Parse {
                path: file.clone(),
                detail: e.to_string(),
            })?);
        }
    }
    Ok(certs)
}

/// What a certificate is good for, now.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CertInfo {
    pub fingerprint: String,
    pub userids: Vec<String>,
    pub revoked: bool,
    pub expired: bool,
    /// Why the certificate is not usable under the policy, if it is not.
    pub invalid: Option<String>,
    pub can_sign: bool,
    pub can_encrypt: bool,
    pub has_secret: bool,
}

pub fn describe(cert: &Cert, now: Timestamp) -> CertInfo {
    let policy = StandardPolicy::new();
    let t = system_time(now);
    let userids = cert
        .userids()
        .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
        .collect();
    let mut info = CertInfo {
        fingerprint: cert.fingerprint().to_hex(),
        userids,
        revoked: matches!(
            cert.revocation_status(&policy, t),
            RevocationStatus::Revoked(_)
        ),
        expired: false,
        invalid: None,
        can_sign: false,
        can_encrypt: false,
        has_secret: cert.is_tsk(),
    };
    match cert.with_policy(&policy, t) {
        Err(e) => info.invalid = Some(e.to_string()),
        Ok(vc) => {
            info.expired = vc.alive().is_err();
            let usable = || vc.keys().alive().revoked(false).supported();
            info.can_sign = usable().for_signing().next().is_some();
            info.can_encrypt = usable()
                .for_transport_encryption()
                .for_storage_encryption()
                .next()
                .is_some();
        }
    }
    info
}

/// Whether a detached signature was made by any key of `cert`, primary or
/// subkey, as its issuer subpackets name it (fingerprint or key ID).
pub fn made_by(signature: &[u8], cert: &Cert) -> bool {
    use sequoia_openpgp::parse::Parse;
    let Ok(pile) = sequoia_openpgp::PacketPile::from_bytes(signature) else {
        return false;
    };
    let issuers: Vec<sequoia_openpgp::KeyHandle> = pile
        .descendants()
        .filter_map(|p| match p {
            sequoia_openpgp::Packet::Signature(s) => Some(s.get_issuers()),
            _ => None,
        })
        .flatten()
        .collect();
    cert.keys().any(|k| {
        let own = k.key().key_handle();
        issuers.iter().any(|i| i.aliases(&own))
    })
}

/// Keys sent with a mail bigger than this are not read: a certificate
/// with a few subkeys and signatures is a few KiB.
const MAX_SENDER_KEY: usize = 64 * 1024;

/// Reads the key a sender sent with their mail (an Autocrypt header's
/// keydata, an attached `application/pgp-keys` part): one certificate,
/// with a user id whose address is `addr`. A certificate for someone else
/// is refused, never kept. One that names `addr` but cannot take
/// encrypted mail now is kept, with why not, so the answer can say so.
pub fn sender_key(
    bytes: &[u8],
    addr: &str,
    source: crate::core::inbound::KeySource,
    now: Timestamp,
) -> Result<crate::core::inbound::SenderKey, String> {
    if bytes.len() > MAX_SENDER_KEY {
        return Err(format!(
            "the key is {} bytes, over the {MAX_SENDER_KEY} read",
            bytes.len()
        ));
    }
    let cert = Cert::from_bytes(bytes).map_err(|e| format!("it is not an OpenPGP key: {e}"))?;
    if cert.is_tsk() {
        // Someone sent their secret key by mistake: keep only the public half.
        tracing::warn!(fingerprint = %cert.fingerprint(), "a sender's key came with its secret parts; only the public key is kept");
    }
    let names_addr = cert.userids().any(|u| {
        u.userid()
            .email_normalized()
            .ok()
            .flatten()
            .is_some_and(|e| e.eq_ignore_ascii_case(addr.trim()))
    });
    if !names_addr {
        return Err(format!(
            "key {} has no user id for {addr}",
            cert.fingerprint().to_hex()
        ));
    }
    let policy = StandardPolicy::new();
    let t = system_time(now);
    let info = describe(&cert, now);
    let unusable = if let Some(why) = &info.invalid {
        Some(format!("the key is not valid: {why}"))
    } else if info.revoked {
        Some("the key is revoked".to_owned())
    } else if info.expired {
        Some("the key has expired".to_owned())
    } else if !info.can_encrypt {
        Some("the key has no usable encryption subkey".to_owned())
    } else {
        None
    };
    let valid = cert.with_policy(&policy, t).ok();
    let expires_at = valid
        .as_ref()
        .and_then(|vc| vc.primary_key().key_expiration_time())
        .and_then(|e| Timestamp::try_from(e).ok());
    // The keys mail is encrypted to (as `encrypt_for` picks them), and
    // when the last of them stops being usable: a subkey may expire long
    // before the primary key does, after the key was recorded.
    let encryption_expires_at = valid.as_ref().and_then(|vc| {
        let ends: Vec<Option<SystemTime>> = vc
            .keys()
            .supported()
            .alive()
            .revoked(false)
            .for_transport_encryption()
            .for_storage_encryption()
            .map(|k| k.key_expiration_time())
            .collect();
        if ends.iter().any(Option::is_none) {
            None
        } else {
            ends.into_iter()
                .flatten()
                .max()
                .and_then(|e| Timestamp::try_from(e).ok())
        }
    });
    Ok(crate::core::inbound::SenderKey {
        fingerprint: cert.fingerprint().to_hex(),
        armored: String::from_utf8(public_armored(&cert.strip_secret_key_material()))
            .expect("armor is ASCII"),
        source,
        expires_at,
        encryption_expires_at,
        unusable,
    })
}
