//! OpenPGP with sequoia: the list key signs, encrypts and decrypts; the
//! roster's certificates check signatures. Policy is sequoia's
//! `StandardPolicy` at `now` (so SHA-1 signatures are refused).

mod keys;

use std::io::{Read, Write};

use jiff::Timestamp;
use openpgp::cert::amalgamation::ValidAmalgamation;
use openpgp::crypto::{KeyPair, SessionKey};
use openpgp::packet::{PKESK, SKESK};
use openpgp::parse::Parse;
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, DetachedVerifierBuilder, MessageLayer, MessageStructure,
    VerificationError, VerificationHelper, VerifierBuilder,
};
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message, Signer};
use openpgp::types::{HashAlgorithm, RevocationStatus, SignatureType, SymmetricAlgorithm};
use openpgp::{Cert, KeyHandle};
use sequoia_openpgp as openpgp;

use keys::system_time;
pub use keys::{
    CertInfo, KeyError, describe, generate, load_certs, load_secret, made_by, public_armored,
    secret_armored, sender_key,
};

use crate::core::signature::{Made, SignatureStatus};
use crate::crypto::{CryptoError, Decrypted, Detached, Opener, Sealer};

/// The list key and the certificates the service knows.
pub struct Pgp {
    list_key: Cert,
    /// Signatures by these count (the roster's members).
    signers: Vec<Cert>,
    /// Mail may be encrypted to these (distributors).
    recipients: Vec<Cert>,
}

impl Pgp {
    pub fn new(list_key: Cert, signers: Vec<Cert>, recipients: Vec<Cert>) -> Self {
        Pgp {
            list_key,
            signers,
            recipients,
        }
    }

    fn signing_keypair(&self, now: Timestamp) -> Result<KeyPair, CryptoError> {
        let policy = StandardPolicy::new();
        self.list_key
            .keys()
            .unencrypted_secret()
            .with_policy(&policy, system_time(now))
            .supported()
            .alive()
            .revoked(false)
            .for_signing()
            .next()
            .ok_or_else(|| {
                CryptoError::Sign(format!(
                    "the list key {} has no usable signing key; generate a new one with `embargo keys generate`",
                    self.list_key.fingerprint()
                ))
            })?
            .key()
            .clone()
            .into_keypair()
            .map_err(|e| CryptoError::Sign(e.to_string()))
    }
}

/// A good signature and what it signed. The replay key is the hash the
/// signature commits to (over the signed data, the hashed subpackets and
/// the trailer), never the packet's bytes: those can be reshaped (the
/// unhashed area, the armor) without breaking the signature.
fn made(cert: &Cert, sig: &openpgp::packet::Signature) -> SignatureStatus {
    let signed_at = sig
        .signature_creation_time()
        .and_then(|t| Timestamp::try_from(t).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let Some(hash) = sig.computed_digest().filter(|d| !d.is_empty()) else {
        return SignatureStatus::Bad {
            detail: "what the signature covers could not be determined".to_owned(),
        };
    };
    let fingerprint = cert.fingerprint().to_hex();
    let digest = crate::parse::sha256_hex(&[
        fingerprint.as_bytes(),
        &signed_at.as_second().to_be_bytes(),
        hash,
    ]);
    SignatureStatus::Valid(Made {
        fingerprint,
        signed_at,
        digest,
        also: Vec::new(),
        binary: sig.typ() == SignatureType::Binary,
    })
}

/// Turns sequoia's verdicts into ours; remembers the first good one, and
/// what every good one signed (each is spent when the mail is seen).
struct Checker<'a> {
    certs: &'a [Cert],
    now: std::time::SystemTime,
    /// The decryption keys, when decrypting.
    decrypt_with: Vec<KeyPair>,
    /// The list key, named as the one decrypting: sequoia then refuses a
    /// signature whose Intended Recipient subpackets name someone else (a
    /// member's signed mail to another person, re-encrypted to the list).
    recipient: Option<Cert>,
    /// A cleartext signature must be a text signature (RFC 4880 section 7):
    /// a binary one was made over other bytes, a PGP/MIME part moved here.
    text_only: bool,
    status: SignatureStatus,
    others: Vec<String>,
}

impl<'a> Checker<'a> {
    fn new(certs: &'a [Cert], now: Timestamp) -> Self {
        Checker {
            certs,
            now: system_time(now),
            decrypt_with: Vec::new(),
            recipient: None,
            text_only: false,
            status: SignatureStatus::Unsigned,
            others: Vec::new(),
        }
    }
}

fn issuer(sig: &openpgp::packet::Signature) -> Option<String> {
    sig.get_issuers().first().map(|h| h.to_hex())
}

fn verdict(error: &VerificationError<'_>, now: std::time::SystemTime) -> SignatureStatus {
    let policy = StandardPolicy::new();
    let cert_state = |cert: &Cert| -> Option<SignatureStatus> {
        let fingerprint = cert.fingerprint().to_hex();
        if matches!(
            cert.revocation_status(&policy, now),
            RevocationStatus::Revoked(_)
        ) {
            return Some(SignatureStatus::KeyRevoked { fingerprint });
        }
        match cert.with_policy(&policy, now) {
            Ok(vc) if vc.alive().is_err() => Some(SignatureStatus::KeyExpired { fingerprint }),
            _ => None,
        }
    };
    let bad = |e: &anyhow_error::Error| {
        let detail = format!("{e:#}");
        if detail.contains("SHA1") || detail.contains("SHA-1") {
            SignatureStatus::Bad {
                detail: "made with SHA-1, which is no longer accepted: sign with SHA-256 or better"
                    .into(),
            }
        } else {
            SignatureStatus::Bad { detail }
        }
    };
    match error {
        VerificationError::MissingKey { sig } => SignatureStatus::UnknownKey {
            issuer: issuer(sig),
        },
        VerificationError::UnboundKey { cert, error, .. } => {
            cert_state(cert).unwrap_or_else(|| bad(error))
        }
        VerificationError::BadKey { ka, error, .. } => {
            let key_revoked = matches!(ka.revocation_status(), RevocationStatus::Revoked(_));
            let fingerprint = ka.cert().fingerprint().to_hex();
            if key_revoked {
                SignatureStatus::KeyRevoked { fingerprint }
            } else if ka.alive().is_err() {
                SignatureStatus::KeyExpired { fingerprint }
            } else {
                cert_state(ka.cert()).unwrap_or_else(|| bad(error))
            }
        }
        VerificationError::BadSignature { error, .. }
            if format!("{error:#}").contains("ntended recipient") =>
        {
            SignatureStatus::Bad {
                detail: "the signature names other intended recipients: it was signed and \
                         encrypted for someone else, then encrypted to this list"
                    .to_owned(),
            }
        }
        VerificationError::BadSignature { error, .. } => {
            let s = bad(error);
            match s {
                SignatureStatus::Bad { detail } if !detail.contains("SHA-1") => {
                    SignatureStatus::Bad {
                        detail: format!(
                            "the mail does not match its signature (changed after signing?): {detail}"
                        ),
                    }
                }
                other => other,
            }
        }
        VerificationError::MalformedSignature { error, .. } => bad(error),
        other => SignatureStatus::Bad {
            detail: other.to_string(),
        },
    }
}

/// sequoia reports errors as `anyhow::Error`; only this module sees them.
mod anyhow_error {
    pub type Error = sequoia_openpgp::anyhow::Error;
}

impl Checker<'_> {
    /// The verdict, with every other good signature's replay key.
    fn finish(&mut self) -> SignatureStatus {
        let mut status = std::mem::replace(&mut self.status, SignatureStatus::Unsigned);
        if let SignatureStatus::Valid(made) = &mut status {
            let mut others = std::mem::take(&mut self.others);
            others.sort();
            others.dedup();
            others.retain(|d| *d != made.digest);
            made.also = others;
        }
        status
    }
}

impl VerificationHelper for Checker<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.to_vec())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        let now = self.now;
        for layer in structure.into_iter() {
            if let MessageLayer::SignatureGroup { results } = layer {
                for result in results {
                    let status = match result {
                        Ok(good) if self.text_only && good.sig.typ() != SignatureType::Text => {
                            SignatureStatus::Bad {
                                detail: "a signed text needs a text signature, and this one was \
                                         made over binary data (from a PGP/MIME mail?)"
                                    .to_owned(),
                            }
                        }
                        Ok(good) => made(good.ka.cert(), good.sig),
                        Err(e) => verdict(&e, now),
                    };
                    // The first good signature wins; otherwise the first
                    // verdict stands. Every good one is spent.
                    match (&self.status, status) {
                        (SignatureStatus::Valid(_), SignatureStatus::Valid(m)) => {
                            self.others.push(m.digest)
                        }
                        (SignatureStatus::Valid(_), _) => {}
                        (_, good @ SignatureStatus::Valid(_)) => self.status = good,
                        (SignatureStatus::Unsigned, other) => self.status = other,
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

impl DecryptionHelper for Checker<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        for pkesk in pkesks {
            for pair in self.decrypt_with.iter_mut() {
                if let Some((algo, sk)) = pkesk.decrypt(pair, sym_algo)
                    && decrypt(algo, &sk)
                {
                    return Ok(self.recipient.clone());
                }
            }
        }
        let to: Vec<String> = pkesks
            .iter()
            .filter_map(|p| p.recipient().map(|r| r.to_hex()))
            .collect();
        Err(openpgp::anyhow::anyhow!(
            "it is not encrypted to the list key (it is for {})",
            if to.is_empty() {
                "an anonymous recipient".to_owned()
            } else {
                to.join(", ")
            }
        ))
    }
}

impl Sealer for Pgp {
    fn fingerprint(&self) -> String {
        self.list_key.fingerprint().to_hex()
    }

    fn public_key(&self) -> Vec<u8> {
        public_armored(&self.list_key)
    }

    fn sign(&self, data: &[u8], now: Timestamp) -> Result<Detached, CryptoError> {
        let keypair = self.signing_keypair(now)?;
        let err = |e: openpgp::anyhow::Error| CryptoError::Sign(e.to_string());
        let mut out = Vec::new();
        {
            let message = Message::new(&mut out);
            let message = Armorer::new(message)
                .kind(openpgp::armor::Kind::Signature)
                .build()
                .map_err(err)?;
            let mut signer = Signer::new(message, keypair)
                .map_err(err)?
                .detached()
                .hash_algo(HashAlgorithm::SHA512)
                .map_err(err)?
                .creation_time(system_time(now))
                .build()
                .map_err(err)?;
            signer
                .write_all(data)
                .map_err(|e| CryptoError::Sign(e.to_string()))?;
            signer.finalize().map_err(err)?;
        }
        Ok(Detached {
            armored: out,
            micalg: "pgp-sha512".to_owned(),
        })
    }

    fn encrypt(
        &self,
        plaintext: &[u8],
        recipient: &str,
        now: Timestamp,
    ) -> Result<Vec<u8>, CryptoError> {
        let fail = |detail: String| CryptoError::Encrypt {
            recipient: recipient.to_owned(),
            detail,
        };
        let cert = self
            .recipients
            .iter()
            .find(|c| c.fingerprint().to_hex() == recipient)
            .ok_or_else(|| fail("no certificate with that fingerprint is configured".into()))?;
        self.encrypt_for(plaintext, cert, recipient, now)
    }

    fn encrypt_to_cert(
        &self,
        plaintext: &[u8],
        cert: &[u8],
        now: Timestamp,
    ) -> Result<Vec<u8>, CryptoError> {
        let cert = Cert::from_bytes(cert).map_err(|e| CryptoError::Encrypt {
            recipient: "the sender's key".to_owned(),
            detail: e.to_string(),
        })?;
        let recipient = cert.fingerprint().to_hex();
        self.encrypt_for(plaintext, &cert, &recipient, now)
    }
}

impl Pgp {
    /// One OpenPGP message, signed by the list key, encrypted to `cert`.
    fn encrypt_for(
        &self,
        plaintext: &[u8],
        cert: &Cert,
        recipient: &str,
        now: Timestamp,
    ) -> Result<Vec<u8>, CryptoError> {
        let policy = StandardPolicy::new();
        let t = system_time(now);
        let fail = |detail: String| CryptoError::Encrypt {
            recipient: recipient.to_owned(),
            detail,
        };
        let vc = cert
            .with_policy(&policy, t)
            .map_err(|e| fail(format!("the certificate is not valid: {e}")))?;
        if matches!(vc.revocation_status(), RevocationStatus::Revoked(_)) {
            return Err(fail("the certificate is revoked".into()));
        }
        if vc.alive().is_err() {
            return Err(fail("the certificate has expired".into()));
        }
        let keys: Vec<_> = vc
            .keys()
            .supported()
            .alive()
            .revoked(false)
            .for_transport_encryption()
            .for_storage_encryption()
            .collect();
        if keys.is_empty() {
            return Err(fail(
                "it has no valid encryption key (expired or revoked?)".into(),
            ));
        }
        let keypair = self.signing_keypair(now)?;
        let err = |e: openpgp::anyhow::Error| fail(e.to_string());
        let mut out = Vec::new();
        {
            let message = Message::new(&mut out);
            let message = Armorer::new(message).build().map_err(err)?;
            let message = Encryptor::for_recipients(message, keys)
                .build()
                .map_err(err)?;
            let message = Signer::new(message, keypair)
                .map_err(err)?
                .hash_algo(HashAlgorithm::SHA512)
                .map_err(err)?
                .creation_time(t)
                .build()
                .map_err(err)?;
            let mut literal = LiteralWriter::new(message).build().map_err(err)?;
            literal
                .write_all(plaintext)
                .map_err(|e| fail(e.to_string()))?;
            literal.finalize().map_err(err)?;
        }
        Ok(out)
    }
}

impl Opener for Pgp {
    fn verify_detached(&self, data: &[u8], signature: &[u8], now: Timestamp) -> SignatureStatus {
        let policy = StandardPolicy::new();
        let verifier = DetachedVerifierBuilder::from_bytes(signature).and_then(|b| {
            b.with_policy(
                &policy,
                Some(system_time(now)),
                Checker::new(&self.signers, now),
            )
        });
        let mut verifier = match verifier {
            Ok(v) => v,
            Err(e) => {
                return SignatureStatus::Bad {
                    detail: format!("the signature cannot be read: {e}"),
                };
            }
        };
        if let Err(e) = verifier.verify_bytes(data) {
            return SignatureStatus::Bad {
                detail: e.to_string(),
            };
        }
        verifier.helper_mut().finish()
    }

    fn verify_cleartext(
        &self,
        message: &[u8],
        now: Timestamp,
    ) -> (SignatureStatus, Option<Vec<u8>>) {
        let policy = StandardPolicy::new();
        let mut checker = Checker::new(&self.signers, now);
        checker.text_only = true;
        let verifier = VerifierBuilder::from_bytes(message)
            .and_then(|b| b.with_policy(&policy, Some(system_time(now)), checker));
        let mut verifier = match verifier {
            Ok(v) => v,
            Err(e) => {
                return (
                    SignatureStatus::Bad {
                        detail: format!("the signed text cannot be read: {e}"),
                    },
                    None,
                );
            }
        };
        let mut text = Vec::new();
        if let Err(e) = verifier.read_to_end(&mut text) {
            return (
                SignatureStatus::Bad {
                    detail: e.to_string(),
                },
                None,
            );
        }
        let status = verifier.helper_mut().finish();
        (status, Some(text))
    }

    fn decrypt(&self, ciphertext: &[u8], now: Timestamp) -> Result<Decrypted, CryptoError> {
        let policy = StandardPolicy::new();
        let t = system_time(now);
        let mut checker = Checker::new(&self.signers, now);
        checker.decrypt_with = self
            .list_key
            .keys()
            .unencrypted_secret()
            .with_policy(&policy, t)
            .supported()
            .for_transport_encryption()
            .for_storage_encryption()
            .filter_map(|ka| ka.key().clone().into_keypair().ok())
            .collect();
        checker.recipient = Some(self.list_key.clone().strip_secret_key_material());
        let mut decryptor = DecryptorBuilder::from_bytes(ciphertext)
            .and_then(|b| b.with_policy(&policy, Some(t), checker))
            .map_err(|e| CryptoError::Decrypt(format!("{e:#}")))?;
        let mut plaintext = Vec::new();
        decryptor
            .read_to_end(&mut plaintext)
            .map_err(|e| CryptoError::Decrypt(e.to_string()))?;
        let signature = decryptor.helper_mut().finish();
        Ok(Decrypted {
            plaintext,
            signature,
        })
    }
}
