//! The seam between mail handling and OpenPGP: what the rest of embargo
//! asks of a crypto backend. `pgp` implements it with sequoia.

use jiff::Timestamp;

use crate::core::signature::SignatureStatus;

/// A detached signature, armored, and the `micalg` that names its hash.
#[derive(Debug, Clone)]
pub struct Detached {
    pub armored: Vec<u8>,
    pub micalg: String,
}

#[derive(Debug, Clone)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    /// A signature inside the encrypted message, if any.
    pub signature: SignatureStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("cannot sign: {0}")]
    Sign(String),
    #[error(
        "cannot encrypt to {recipient}: {detail}; update their key, or they cannot receive embargoed mail"
    )]
    Encrypt { recipient: String, detail: String },
    #[error("cannot decrypt: {0}")]
    Decrypt(String),
}

/// Signing and encrypting what the service sends, with the list key.
pub trait Sealer: Send + Sync {
    /// The fingerprint of the list key's certificate.
    fn fingerprint(&self) -> String;

    /// The list key's public certificate, armored.
    fn public_key(&self) -> Vec<u8>;

    /// A detached signature over exactly `data`.
    fn sign(&self, data: &[u8], now: Timestamp) -> Result<Detached, CryptoError>;

    /// One OpenPGP message, signed by the list key and encrypted to the
    /// certificate with `recipient` (a fingerprint the service knows).
    fn encrypt(
        &self,
        plaintext: &[u8],
        recipient: &str,
        now: Timestamp,
    ) -> Result<Vec<u8>, CryptoError>;

    /// The same, encrypted to a certificate given as bytes: one a sender
    /// sent with their mail, which the config does not list.
    fn encrypt_to_cert(
        &self,
        _plaintext: &[u8],
        _cert: &[u8],
        _now: Timestamp,
    ) -> Result<Vec<u8>, CryptoError> {
        Err(CryptoError::Encrypt {
            recipient: "the sender's key".to_owned(),
            detail: "this backend encrypts only to configured keys".to_owned(),
        })
    }
}

/// Checking and opening what the service receives.
pub trait Opener: Send + Sync {
    /// Checks a detached signature over `data` against the roster's keys.
    fn verify_detached(&self, data: &[u8], signature: &[u8], now: Timestamp) -> SignatureStatus;

    /// Checks a cleartext-signed (inline) message; returns the signed text.
    fn verify_cleartext(
        &self,
        message: &[u8],
        now: Timestamp,
    ) -> (SignatureStatus, Option<Vec<u8>>);

    /// Decrypts with the list key, checking any signature inside.
    fn decrypt(&self, ciphertext: &[u8], now: Timestamp) -> Result<Decrypted, CryptoError>;
}

/// Both halves, for the service.
#[derive(Clone)]
pub struct Crypto {
    pub sealer: std::sync::Arc<dyn Sealer>,
    pub opener: std::sync::Arc<dyn Opener>,
}

impl Crypto {
    pub fn new<T: Sealer + Opener + 'static>(backend: T) -> Self {
        let shared = std::sync::Arc::new(backend);
        Crypto {
            sealer: shared.clone(),
            opener: shared,
        }
    }
}
