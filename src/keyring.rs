//! The keys the config names, read and checked: the list's secret key, the
//! roster's public keys and the distributors'. Problems come back as
//! config diagnostics with the field to fix.

use jiff::Timestamp;
use sequoia_openpgp::Cert;
use serde::Serialize;

use crate::config::{Diagnostic, Diagnostics, Settings};
use crate::core::roster::Member;
use crate::pgp::{self, CertInfo, Pgp};

/// One roster member's or distributor's key, as found.
#[derive(Debug, Clone, Serialize)]
pub struct KnownKey {
    pub email: String,
    /// The fingerprint the config gives.
    pub configured: Option<String>,
    pub key: Option<CertInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    pub list_key: CertInfo,
    pub members: Vec<KnownKey>,
    pub release_managers: Vec<KnownKey>,
    pub distributors: Vec<KnownKey>,
}

pub struct Keyring {
    pub pgp: Pgp,
    pub report: KeyReport,
    pub warnings: Vec<Diagnostic>,
}

fn find<'c>(certs: &'c [Cert], fingerprint: &str) -> Option<&'c Cert> {
    certs
        .iter()
        .find(|c| c.fingerprint().to_hex() == fingerprint)
}

fn state_problem(info: &CertInfo) -> Option<&'static str> {
    if info.revoked {
        Some("is revoked")
    } else if info.expired {
        Some("has expired")
    } else if info.invalid.is_some() {
        Some("is not valid under the current policy")
    } else {
        None
    }
}

/// Finds a roster person's key: in their own file, or in the shared keyring.
fn person_key(
    path: &str,
    m: &Member,
    own_file: Option<&std::path::Path>,
    shared: &[Cert],
    signers: &mut Vec<Cert>,
    d: &mut Diagnostics,
    now: Timestamp,
) -> KnownKey {
    let own = match own_file {
        Some(file) => match pgp::load_certs(file) {
            Ok(certs) => certs,
            Err(e) => {
                d.error(format!("{path}.key_file"), e.to_string());
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let found = match &m.fingerprint {
        Some(fp) => find(&own, fp).or_else(|| find(shared, fp)).cloned(),
        None => None,
    };
    match (&m.fingerprint, &found) {
        (Some(fp), None) if !own.is_empty() => d.error(
            format!("{path}.key_file"),
            format!(
                "holds {}, not the key {fp} the roster names: export the right key, or correct the fingerprint",
                own.iter().map(|c| c.fingerprint().to_hex()).collect::<Vec<_>>().join(", ")
            ),
        ),
        (Some(fp), None) => d.warn(
            format!("{path}.key_file"),
            format!(
                "no public key for {} ({fp}): their signed commands cannot be checked; add key_file or put the key in [roster] keyring",
                m.email
            ),
        ),
        (None, _) if !own.is_empty() => d.warn(
            format!("{path}.fingerprint"),
            format!(
                "{} has a key file but no fingerprint: add fingerprint = \"{}\" to trust it",
                m.email,
                own[0].fingerprint().to_hex()
            ),
        ),
        _ => {}
    }
    let info = found.as_ref().map(|c| pgp::describe(c, now));
    if let Some(problem) = info.as_ref().and_then(state_problem) {
        d.warn(
            format!("{path}.key_file"),
            format!(
                "the key of {} {problem}: their commands will be refused until they renew it",
                m.email
            ),
        );
    }
    if let Some(cert) = found {
        signers.push(cert);
    }
    KnownKey {
        email: m.email.clone(),
        configured: m.fingerprint.clone(),
        key: info,
    }
}

pub fn load(settings: &Settings, now: Timestamp) -> Result<Keyring, Diagnostics> {
    let mut d = Diagnostics::default();
    let list_key = match pgp::load_secret(&settings.list.key_file) {
        Ok(cert) => Some(cert),
        Err(e) => {
            d.error("list.key_file", e.to_string());
            None
        }
    };
    let list_info = list_key.as_ref().map(|c| pgp::describe(c, now));
    if let Some(info) = &list_info {
        if let Some(problem) = state_problem(info) {
            d.error(
                "list.key_file",
                format!(
                    "the list key {} {problem}: generate a new one with `embargo keys generate`",
                    info.fingerprint
                ),
            );
        } else if !info.can_sign {
            d.error(
                "list.key_file",
                format!(
                    "the list key {} has no usable signing key",
                    info.fingerprint
                ),
            );
        }
        let address = settings.list.security_address.to_ascii_lowercase();
        let named = info.userids.iter().any(|u| {
            let u = u.to_ascii_lowercase();
            u == address || u.contains(&format!("<{address}>"))
        });
        if !named {
            d.warn(
                "list.key_file",
                format!(
                    "the list key {} has no user ID with {} (it has: {}): mail clients look the \
                     signer of our mail up by its From address and will call the signature \
                     unverified; add one (`gpg --quick-add-uid`), or generate the key with \
                     `embargo keys generate --uid \"… <{}>\"`",
                    info.fingerprint,
                    settings.list.security_address,
                    if info.userids.is_empty() {
                        "none".to_owned()
                    } else {
                        info.userids.join(", ")
                    },
                    settings.list.security_address
                ),
            );
        }
    }

    let mut shared = Vec::new();
    if let Some(path) = &settings.roster_keys.keyring {
        match pgp::load_certs(path) {
            Ok(certs) => shared = certs,
            Err(e) => d.error("roster.keyring", e.to_string()),
        }
    }
    let mut signers = Vec::new();
    let members = settings
        .roster
        .members
        .iter()
        .zip(&settings.roster_keys.files)
        .enumerate()
        .map(|(i, (m, file))| {
            person_key(
                &format!("roster.members[{i}]"),
                m,
                file.as_deref(),
                &shared,
                &mut signers,
                &mut d,
                now,
            )
        })
        .collect();
    let release_managers = settings
        .roster
        .release_managers
        .iter()
        .zip(&settings.roster_keys.release_manager_files)
        .enumerate()
        .map(|(i, (m, file))| {
            person_key(
                &format!("roster.release_managers[{i}]"),
                m,
                file.as_deref(),
                &shared,
                &mut signers,
                &mut d,
                now,
            )
        })
        .collect();

    // Members get the copy of an encrypted report encrypted to their key.
    let mut recipients = signers.clone();
    let mut distributors = Vec::new();
    for (i, dist) in settings.distributors.iter().enumerate() {
        let path = format!("distributors[{i}]");
        let certs = match &dist.key_file {
            Some(file) => pgp::load_certs(file).unwrap_or_else(|e| {
                d.error(format!("{path}.key_file"), e.to_string());
                Vec::new()
            }),
            None => Vec::new(),
        };
        let cert = match &dist.fingerprint {
            Some(fp) => {
                let c = find(&certs, fp).cloned();
                if c.is_none() && !certs.is_empty() {
                    d.error(
                        format!("{path}.key_file"),
                        format!(
                            "holds {}, not the key {fp} named for {}: export the right key, or correct the fingerprint",
                            certs
                                .iter()
                                .map(|c| c.fingerprint().to_hex())
                                .collect::<Vec<_>>()
                                .join(", "),
                            dist.email
                        ),
                    );
                }
                c
            }
            None => certs.first().cloned(),
        };
        let info = cert.as_ref().map(|c| pgp::describe(c, now));
        let unusable = match &info {
            None => dist
                .key_file
                .as_ref()
                .map(|f| format!("{} holds no OpenPGP key of {}", f.display(), dist.email)),
            Some(i) => state_problem(i)
                .or((!i.can_encrypt).then_some("has no usable encryption key"))
                .map(|problem| format!("the key of {} {problem}", dist.email)),
        };
        if let (true, Some(problem)) = (dist.encrypt, unusable) {
            let consequence = if dist.require_encryption {
                "embargoed notices to them will fail until they send a usable key"
            } else {
                "embargoed notices to them will go out unencrypted until they send a usable key"
            };
            d.warn(
                format!("{path}.key_file"),
                format!("{problem}: {consequence}"),
            );
        }
        if let Some(c) = cert {
            recipients.push(c);
        }
        distributors.push(KnownKey {
            email: dist.email.clone(),
            configured: dist.fingerprint.clone(),
            key: info,
        });
    }

    match (list_key, list_info) {
        (Some(key), Some(list_info)) if !d.has_errors() => Ok(Keyring {
            pgp: Pgp::new(key, signers, recipients),
            report: KeyReport {
                list_key: list_info,
                members,
                release_managers,
                distributors,
            },
            warnings: d.0,
        }),
        _ => Err(d),
    }
}
