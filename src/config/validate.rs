//! Checks the sections' meaning and converts them into [`Settings`], once,
//! at the edge: the rest of the program sees only domain types.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use jiff::SignedDuration;

use super::diagnostic::Diagnostics;
use super::file::PublicKeyMode;
use super::file::{FileSink, MaildirSource, SinkSection, SourceSection, SqliteStore, StoreSection};
use super::read::Sections;
use super::{
    AnnounceChannel, Distributor, ListIdentity, PublicKey, RosterKeys, Settings, SinkSettings,
    SourceSettings, StoreSettings,
};
use crate::core::incident_id::check_prefix;
use crate::core::roster::{Member, Roster, Rotation, normalize_fingerprint};
use crate::core::slot::SlotRules;

fn valid_email(path: &str, raw: &str, diags: &mut Diagnostics) -> Option<String> {
    let trimmed = raw.trim();
    match lettre::Address::from_str(trimmed) {
        Ok(_) => Some(trimmed.to_owned()),
        Err(_) => {
            diags.error(
                path,
                format!("{raw:?} is not an email address: write it as name@domain, without a display name"),
            );
            None
        }
    }
}

/// Joins a relative path to the config's directory, dropping `x/..` pairs
/// so messages show `var/db`, not `config/../var/db`.
pub(super) fn resolve(base: &Path, p: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

fn fingerprint(path: &str, raw: Option<&str>, diags: &mut Diagnostics) -> Option<String> {
    let raw = raw?;
    let fp = normalize_fingerprint(raw);
    if fp.is_none() {
        diags.error(
            path,
            format!(
                "{raw:?} is not an OpenPGP fingerprint: give the full 40 (v4) or 64 (v6) hex \
                 digits, as `gpg --fingerprint` prints them"
            ),
        );
    }
    fp
}

fn roster(s: &Sections, base: &Path, diags: &mut Diagnostics) -> (Roster, RosterKeys) {
    let mut members = Vec::new();
    let mut keys = RosterKeys {
        keyring: s.keyring.as_deref().map(|p| resolve(base, p)),
        files: Vec::new(),
        release_manager_files: Vec::new(),
    };
    if let Some(k) = &keys.keyring
        && !k.exists()
    {
        diags.error(
            "roster.keyring",
            format!(
                "{} does not exist: point it at a file or directory of the members' public keys",
                k.display()
            ),
        );
    }
    let mut seen = HashSet::new();
    for (i, m) in &s.members {
        let path = format!("roster.members[{i}]");
        if m.name.trim().is_empty() {
            diags.error(format!("{path}.name"), "is empty: give the member's name");
        }
        if m.company.trim().is_empty() {
            diags.error(
                format!("{path}.company"),
                "is empty: the process limits members per company; write the employer, or \"independent\"",
            );
        }
        let Some(email) = valid_email(&format!("{path}.email"), &m.email, diags) else {
            continue;
        };
        let email = email.to_ascii_lowercase();
        if !seen.insert(email.clone()) {
            diags.error(
                format!("{path}.email"),
                format!("{email} is listed twice: keep one entry per member"),
            );
            continue;
        }
        let fp = fingerprint(
            &format!("{path}.fingerprint"),
            m.fingerprint.as_deref(),
            diags,
        );
        if m.fingerprint.is_none() {
            diags.warn(
                format!("{path}.fingerprint"),
                format!(
                    "{email} has no OpenPGP fingerprint: they cannot sign commands until one is added"
                ),
            );
        }
        let key_file = m.key_file.as_deref().map(|p| resolve(base, p));
        if let Some(k) = &key_file
            && !k.is_file()
        {
            diags.error(
                format!("{path}.key_file"),
                format!(
                    "{} does not exist: export their key with `gpg --armor --export FINGERPRINT > {0}`",
                    k.display()
                ),
            );
        }
        keys.files.push(key_file);
        members.push(Member {
            name: m.name.trim().to_owned(),
            email,
            company: m.company.trim().to_owned(),
            fingerprint: fp,
            on_leave: m.on_leave,
        });
    }

    let rotation = match &s.oncall {
        Some(o) => {
            let mut order = Vec::new();
            for (i, email) in o.rotation.iter().enumerate() {
                let key = email.trim().to_ascii_lowercase();
                let path = format!("roster.oncall.rotation[{i}]");
                if !members.iter().any(|m| m.email == key) {
                    diags.error(
                        path,
                        format!("{email} is not in [[roster.members]]: add them there or remove them here"),
                    );
                } else if order.contains(&key) {
                    diags.error(path, format!("{email} appears twice in the rotation"));
                } else {
                    order.push(key);
                }
            }
            if o.shift_days == 0 {
                diags.error(
                    "roster.oncall.shift_days",
                    "must be at least 1 (days per oncall shift)",
                );
            }
            if o.rotation.is_empty() && !members.is_empty() {
                diags.warn(
                    "roster.oncall.rotation",
                    "is empty: new incidents get no incident commander; list the members who take oncall",
                );
            }
            Rotation {
                members: order,
                starts: o.starts,
                shift_days: o.shift_days.max(1),
            }
        }
        None => {
            if !members.is_empty() {
                diags.warn(
                    "roster.oncall",
                    "missing: new incidents get no incident commander; add [roster.oncall] with \
                     rotation = [...] and starts = YYYY-MM-DD",
                );
            }
            Rotation {
                members: Vec::new(),
                starts: jiff::civil::date(2000, 1, 3),
                shift_days: 7,
            }
        }
    };
    let mut release_managers = Vec::new();
    for (i, m) in &s.release_managers {
        let path = format!("roster.release_managers[{i}]");
        let Some(email) = valid_email(&format!("{path}.email"), &m.email, diags) else {
            continue;
        };
        let email = email.to_ascii_lowercase();
        if !seen.insert(email.clone()) {
            diags.error(
                format!("{path}.email"),
                format!("{email} is already in the roster: keep one entry per person"),
            );
            continue;
        }
        let key_file = m.key_file.as_deref().map(|p| resolve(base, p));
        if let Some(k) = &key_file
            && !k.is_file()
        {
            diags.error(
                format!("{path}.key_file"),
                format!("{} does not exist", k.display()),
            );
        }
        keys.release_manager_files.push(key_file);
        release_managers.push(Member {
            name: m.name.trim().to_owned(),
            email,
            company: String::new(),
            fingerprint: fingerprint(
                &format!("{path}.fingerprint"),
                m.fingerprint.as_deref(),
                diags,
            ),
            on_leave: false,
        });
    }
    let roster = Roster {
        members,
        release_managers,
        rotation,
    };
    for w in roster.warnings() {
        diags.warn("roster", w.to_string());
    }
    (roster, keys)
}

/// `[advisory]`, checked against what the formats' schemas will demand,
/// so that a wrong setting shows here and not at the slot.
fn advisory(
    a: Option<&super::file::AdvisorySection>,
    diags: &mut Diagnostics,
) -> Option<crate::advisory::Publisher> {
    let Some(a) = a else {
        diags.warn(
            "advisory",
            "no [advisory]: no CVE record, OSV or CSAF is made for the announcements; add \
             [advisory] with vendor, product, cna_org_id, cna_short_name, osv_prefix, \
             announcement_url and publisher_namespace (see config/embargo.toml)",
        );
        return None;
    };
    let errors_before = diags.errors().count();
    for (field, value) in [
        ("vendor", &a.vendor),
        ("product", &a.product),
        ("cna_short_name", &a.cna_short_name),
    ] {
        if value.trim().is_empty() {
            diags.error(
                format!("advisory.{field}"),
                "is empty: give the name as the CVE Program knows it",
            );
        }
    }
    let len = a.cna_short_name.trim().chars().count();
    if len == 1 || len > 32 {
        diags.error(
            "advisory.cna_short_name",
            "must be 2 to 32 characters: the CNA's short name at the CVE Program",
        );
    }
    let uuid = a.cna_org_id.trim();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let groups: Vec<&str> = uuid.split('-').collect();
    let is_uuid = matches!(groups.as_slice(), [a, b, c, d, e]
        if hex(a, 8) && hex(b, 4) && hex(c, 4) && hex(d, 4) && hex(e, 12));
    if !is_uuid {
        diags.error(
            "advisory.cna_org_id",
            format!(
                "{uuid:?} is not a UUID: give the CNA's orgId as the CVE Services show it \
                 (e.g. 8254265b-2729-46b6-b9e3-3dfca2d5bfca)"
            ),
        );
    }
    let prefix = a.osv_prefix.trim();
    if prefix.is_empty() || prefix.contains(|c: char| c.is_whitespace() || c == '/') {
        diags.error(
            "advisory.osv_prefix",
            "is not an OSV id prefix: use your registered OSV database prefix, or x_NAME \
             (OSV's schema accepts x_ for databases it does not list)",
        );
    }
    for (field, value) in [
        ("announcement_url", Some(&a.announcement_url)),
        ("publisher_namespace", Some(&a.publisher_namespace)),
        ("collection_url", a.collection_url.as_ref()),
    ] {
        if let Some(v) = value
            && !crate::advisory::is_url(v.trim())
        {
            diags.error(
                format!("advisory.{field}"),
                format!("{v:?} is not an http(s) URL"),
            );
        }
    }
    for (n, r) in a.references.iter().enumerate() {
        if !crate::advisory::is_url(r.trim()) {
            diags.error(
                format!("advisory.references[{n}]"),
                format!("{r:?} is not an http(s) URL"),
            );
        }
    }
    if !prefix.is_empty()
        && !crate::advisory::schema::osv_accepts("prefix", &format!("{prefix}-2026-0001"))
    {
        diags.error(
            "advisory.osv_prefix",
            format!(
                "{prefix:?} is not a prefix OSV's schema accepts: it lists the registered \
                 databases (GHSA, GO, KUBE, RUSTSEC, …); unless yours is one, use \"x_{prefix}\""
            ),
        );
    }
    if let Some(e) = &a.ecosystem
        && !crate::advisory::schema::osv_accepts("ecosystemWithSuffix", e.trim())
    {
        diags.error(
            "advisory.ecosystem",
            format!(
                "{e:?} is not an ecosystem OSV knows: use its name as OSV writes it \
                 (Go, crates.io, PyPI, npm, Maven, RubyGems, Packagist, NuGet, …)"
            ),
        );
    }
    if a.ecosystem.is_some() != a.package.is_some() {
        diags.error(
            "advisory.package",
            "ecosystem and package go together: OSV names a package by both",
        );
    }
    if a.ecosystem.is_none() {
        diags.warn(
            "advisory.ecosystem",
            "not set: no OSV record is made (OSV names a package by its ecosystem and name)",
        );
    }
    if diags.errors().count() > errors_before {
        return None;
    }
    let text = |s: &str| s.trim().to_owned();
    Some(crate::advisory::Publisher {
        vendor: text(&a.vendor),
        product: text(&a.product),
        ecosystem: a.ecosystem.as_deref().map(text),
        package: a.package.as_deref().map(text),
        collection_url: a.collection_url.as_deref().map(text),
        cna_org_id: uuid.to_ascii_lowercase(),
        cna_short_name: text(&a.cna_short_name),
        osv_prefix: prefix.to_owned(),
        announcement_url: text(&a.announcement_url),
        namespace: text(&a.publisher_namespace),
        references: a.references.iter().map(|r| text(r)).collect(),
    })
}

/// The headers that file a new report as spam. The parser keeps only
/// headers whose name contains "spam": one without it would never match.
pub(super) fn spam_headers(
    ack: &super::file::AcknowledgementSection,
    diags: &mut Diagnostics,
) -> Vec<crate::core::sender_auth::SpamHeader> {
    use crate::core::sender_auth::{SPAM_HEADER_MARK, SpamHeader};
    let Some(entries) = &ack.spam_headers else {
        return SpamHeader::defaults();
    };
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let path = format!("acknowledgement.spam_headers[{i}]");
        let header = e.header.trim();
        let yes = e.yes.trim();
        let name_ok =
            !header.is_empty() && header.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if !name_ok {
            diags.error(
                &path,
                format!(
                    "header {:?} is not a header name: write it as in the mail, without the colon \
                     (e.g. \"X-Spam-Flag\")",
                    e.header
                ),
            );
        } else if !header.to_ascii_lowercase().contains(SPAM_HEADER_MARK) {
            diags.error(
                &path,
                format!(
                    "header {header:?} does not contain \"spam\": embargo reads spam verdicts only \
                     from headers named so (X-Spam-Flag, X-Spam-Status, X-Spam, ...)"
                ),
            );
        } else if yes.is_empty() || yes.contains([' ', ',', ';']) {
            diags.error(
                &path,
                format!(
                    "yes = {:?} must be one word: the first word of the header's value that means \
                     spam (e.g. \"YES\" for X-Spam-Flag: YES)",
                    e.yes
                ),
            );
        } else {
            out.push(SpamHeader {
                header: header.to_owned(),
                yes: yes.to_owned(),
            });
        }
    }
    if entries.is_empty() {
        diags.warn(
            "acknowledgement.spam_headers",
            "is empty: no mail is filed as spam, and every spam the server marked opens an \
             incident the SRC is told of; remove the setting for the SpamAssassin and rspamd defaults",
        );
    }
    out
}

/// The MTA whose Authentication-Results decide who is acknowledged.
fn trusted_authserv_id(
    ack: &super::file::AcknowledgementSection,
    diags: &mut Diagnostics,
) -> Option<String> {
    match ack.trusted_authserv_id.as_deref().map(str::trim) {
        None => {
            diags.warn(
                "acknowledgement.trusted_authserv_id",
                "not set: every new report's From address is acknowledged, so a forged sender \
                 (spam) makes embargo mail a stranger (backscatter); set it to the name your \
                 receiving mail server writes in Authentication-Results",
            );
            None
        }
        Some(id) if id.is_empty() || id.contains([';', ' ', '(']) => {
            diags.error(
                "acknowledgement.trusted_authserv_id",
                "is not an authserv-id: give the host name your receiving mail server writes \
                 first in Authentication-Results (e.g. \"mx.example.org\")",
            );
            None
        }
        Some(id) => {
            if ack.own_received_headers == 0 {
                diags.error(
                    "acknowledgement.own_received_headers",
                    "must be at least 1: your receiving server adds a Received header to every \
                     mail it accepts",
                );
            }
            Some(id.to_owned())
        }
    }
}

fn paths(
    base: &Path,
    s: &Sections,
    diags: &mut Diagnostics,
) -> Option<(SourceSettings, SinkSettings, StoreSettings)> {
    let source = match s.source.as_ref()? {
        SourceSection::Maildir(MaildirSource { path, poll_seconds }) => {
            let path = resolve(base, path);
            if !(path.join("new").is_dir() && path.join("cur").is_dir()) {
                diags.error(
                    "source.path",
                    format!(
                        "{} is not a Maildir (it needs new/ and cur/): point it at the mailbox \
                         your mail delivery agent writes to, or create one with \
                         `mkdir -p {0}/new {0}/cur {0}/tmp`",
                        path.display()
                    ),
                );
            }
            if *poll_seconds == 0 {
                diags.error("source.poll_seconds", "must be at least 1");
            }
            SourceSettings::Maildir {
                path,
                poll_interval: Duration::from_secs((*poll_seconds).max(1)),
            }
        }
        SourceSection::Imap(imap) => SourceSettings::Imap(super::servers::imap(base, imap, diags)?),
    };
    let sink = match s.sink.as_ref()? {
        SinkSection::File(FileSink { dir }) => {
            let dir = resolve(base, dir);
            if !dir.is_dir() {
                match dir.parent() {
                    Some(p) if p.as_os_str().is_empty() || p.is_dir() => diags.warn(
                        "sink.dir",
                        format!("{} does not exist yet; it will be created", dir.display()),
                    ),
                    _ => diags.error(
                        "sink.dir",
                        format!(
                            "neither {} nor its parent directory exists: create the parent or choose another directory",
                            dir.display()
                        ),
                    ),
                }
            }
            SinkSettings::File { dir }
        }
        SinkSection::Smtp(smtp) => {
            let domain = s
                .list
                .as_ref()
                .and_then(|l| l.security_address.rsplit_once('@'))
                .map_or("localhost", |(_, d)| d.trim());
            SinkSettings::Smtp(super::servers::smtp(base, smtp, domain, diags)?)
        }
    };
    let store = match s.store.as_ref()? {
        StoreSection::Sqlite(SqliteStore { path }) => {
            let path = resolve(base, path);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
                && !parent.is_dir()
            {
                diags.error(
                    "store.path",
                    format!(
                        "the directory {} does not exist: create it, or point store.path elsewhere",
                        parent.display()
                    ),
                );
            }
            StoreSettings::Sqlite { path }
        }
        StoreSection::Postgres(pg) => StoreSettings::Postgres {
            url: super::servers::secret(
                "store",
                "url",
                base,
                pg.url_env.as_deref(),
                pg.url_file.as_deref(),
                diags,
            )?,
            max_connections: pg.max_connections.max(2),
        },
    };
    Some((source, sink, store))
}

pub fn validate(
    s: Sections,
    base: &Path,
    origin: &Path,
    diags: &mut Diagnostics,
) -> Option<Settings> {
    let list = s.list.as_ref().and_then(|l| {
        let security = valid_email("list.security_address", &l.security_address, diags);
        let src = valid_email("list.src_address", &l.src_address, diags);
        if let Err(e) = check_prefix(&l.incident_prefix) {
            diags.error("list.incident_prefix", e.to_string());
        }
        if l.name.trim().is_empty() {
            diags.error(
                "list.name",
                "is empty: give the project's name, as reporters know it",
            );
        }
        let (security, src) = (security?, src?);
        if security.eq_ignore_ascii_case(&src) {
            diags.error(
                "list.src_address",
                "is the security address: the SRC list must be a separate, private list",
            );
        }
        let key_file = resolve(base, &l.key_file);
        if !key_file.is_file() {
            diags.error(
                "list.key_file",
                format!(
                    "{} does not exist: every mail the service sends is signed with the list key; make one with \
                     `embargo keys generate --uid \"{} <{security}>\" --out {0}`, as the user the service runs as, \
                     who alone must read it (installed from the Debian package: `runuser -u embargo -- embargo keys generate …`)",
                    key_file.display(),
                    l.name.trim()
                ),
            );
        }
        let public_key = match l.public_key {
            PublicKeyMode::Attach => PublicKey::Attach,
            PublicKeyMode::Reference => PublicKey::Reference {
                url: l.public_key_url.clone(),
            },
        };
        Some(ListIdentity {
            name: l.name.trim().to_owned(),
            security_address: security,
            src_address: src,
            incident_prefix: l.incident_prefix.clone(),
            key_file,
            public_key,
        })
    });
    let (roster, roster_keys) = roster(&s, base, diags);

    let mut distributors = Vec::new();
    for (i, d) in &s.distributors {
        let path = format!("distributors[{i}]");
        if let Some(email) = valid_email(&format!("{path}.email"), &d.email, diags) {
            if distributors
                .iter()
                .any(|x: &Distributor| x.email.eq_ignore_ascii_case(&email))
            {
                diags.error(format!("{path}.email"), format!("{email} is listed twice"));
                continue;
            }
            let key_file = d.key_file.as_deref().map(|p| resolve(base, p));
            if let Some(k) = &key_file
                && !k.is_file()
            {
                diags.error(
                    format!("{path}.key_file"),
                    format!(
                        "{} does not exist: save {email}'s public key there (from them, or \
                         `gpg --armor --export FINGERPRINT > {0}`), or remove key_file",
                        k.display()
                    ),
                );
            }
            if d.require_encryption && !d.encrypt {
                diags.error(
                    format!("{path}.require_encryption"),
                    "needs encrypt = true: a distributor who requires encryption must be sent encrypted mail",
                );
            }
            if d.encrypt && d.fingerprint.is_none() {
                diags.error(
                    format!("{path}.fingerprint"),
                    "missing: encrypt = true needs the fingerprint of the key to encrypt to",
                );
            }
            if d.encrypt && key_file.is_none() {
                diags.error(
                    format!("{path}.key_file"),
                    "missing: encrypt = true needs the distributor's public key; add key_file = \"PATH\"",
                );
            }
            distributors.push(Distributor {
                name: d.name.trim().to_owned(),
                email,
                fingerprint: fingerprint(
                    &format!("{path}.fingerprint"),
                    d.fingerprint.as_deref(),
                    diags,
                ),
                key_file,
                encrypt: d.encrypt,
                require_encryption: d.require_encryption,
            });
        }
    }
    let mut announce = Vec::new();
    for (i, a) in &s.announce {
        if let Some(address) = valid_email(&format!("announce[{i}].address"), &a.address, diags) {
            announce.push(AnnounceChannel {
                address,
                subject_prefix: a.subject_prefix.trim().to_owned(),
            });
        }
    }
    if s.announce.is_empty() {
        diags.warn("announce", "no announce lists: public announcements will have nowhere to go; add [[announce]] entries");
    }

    if s.schedule.slot_hour > 23 {
        diags.error(
            "schedule.slot_hour",
            format!(
                "{} is not an hour of the day: use 0 to 23 (UTC); the process recommends 16",
                s.schedule.slot_hour
            ),
        );
    }
    match s.schedule.advance_notice_days {
        0 | 91.. => diags.error(
            "schedule.advance_notice_days",
            format!(
                "{} days: use 1 to 90; the process gives distributors at least 7",
                s.schedule.advance_notice_days
            ),
        ),
        1..7 => diags.warn(
            "schedule.advance_notice_days",
            "the process gives distributors at least 7 days; with less, say so in your policy",
        ),
        _ => {}
    }
    let mut time_zones = Vec::new();
    for (i, z) in s.schedule.time_zones.iter().enumerate() {
        match jiff::tz::TimeZone::get(z) {
            Ok(_) if z != "UTC" => time_zones.push(z.clone()),
            Ok(_) => diags.warn(format!("schedule.time_zones[{i}]"), "UTC is always shown; leave it out"),
            Err(_) => diags.error(
                format!("schedule.time_zones[{i}]"),
                format!("{z:?} is not a time zone: use an IANA name such as \"America/New_York\" or \"Europe/Berlin\""),
            ),
        }
    }
    if time_zones.len() > 3 {
        diags.warn(
            "schedule.time_zones",
            "more than three zones make the embargo statement hard to read",
        );
    }
    let mut blackout = s.schedule.blackout.clone();
    blackout.sort();
    blackout.dedup();
    if s.commands.max_signature_age_days == 0 {
        diags.error("commands.max_signature_age_days", "must be at least 1");
    }
    if s.limits.max_message_mib == 0 {
        diags.error("limits.max_message_mib", "must be at least 1");
    }
    if s.limits.batch_mails == 0 {
        diags.error("limits.batch_mails", "must be at least 1");
    }
    if s.limits.batch_mib == 0 {
        diags.error("limits.batch_mib", "must be at least 1");
    }

    let advisory = advisory(s.advisory.as_ref(), diags);
    let observe = s
        .observe
        .as_ref()
        .and_then(|o| observe_listen(&o.listen, diags));
    let (source, sink, store) = paths(base, &s, diags)?;
    if let super::SinkSettings::Smtp(smtp) = &sink
        && u64::from(s.outbox.lease_seconds) <= smtp.timeout.as_secs()
    {
        // A sender checks that its claim outlasts the send before it
        // starts one; with a shorter claim, nothing would ever go.
        diags.error(
            "outbox.lease_seconds",
            format!(
                "{} s is not longer than sink.timeout_seconds ({} s): a claim must outlast the \
                 slowest send, or another replica could claim the mail meanwhile; raise it",
                s.outbox.lease_seconds,
                smtp.timeout.as_secs()
            ),
        );
    }
    if diags.has_errors() {
        return None;
    }
    Some(Settings {
        origin: origin.to_owned(),
        list: list?,
        roster,
        roster_keys,
        distributors,
        announce,
        source,
        sink,
        store,
        schedule: SlotRules {
            hour: s.schedule.slot_hour,
            blackout,
            advance_notice: super::advance_notice(s.schedule.advance_notice_days),
        },
        time_zones,
        ack_rate_limit: SignedDuration::from_mins(i64::from(s.acknowledgement.rate_limit_minutes)),
        trusted_authserv_id: trusted_authserv_id(&s.acknowledgement, diags),
        own_received_headers: s.acknowledgement.own_received_headers.max(1) as usize,
        spam_headers: spam_headers(&s.acknowledgement, diags),
        untriaged_reminders_max: s.schedule.untriaged_reminders_max,
        max_signature_age: SignedDuration::from_hours(
            i64::from(s.commands.max_signature_age_days) * 24,
        ),
        max_message_bytes: (s.limits.max_message_mib as usize).saturating_mul(1024 * 1024),
        batch: super::BatchSettings {
            mails: s.limits.batch_mails as usize,
            bytes: (s.limits.batch_mib as usize).saturating_mul(1024 * 1024),
        },
        outbox: super::OutboxSettings {
            lease: SignedDuration::from_secs(i64::from(s.outbox.lease_seconds.max(1))),
            pause_after_claim: None,
            retry: SignedDuration::from_secs(i64::from(s.outbox.retry_seconds.max(1))),
            verp: s.outbox.verp,
        },
        advisory,
        observe,
    })
}

/// `[observe] listen`: an address and port, or a port alone on loopback.
fn observe_listen(listen: &str, diags: &mut Diagnostics) -> Option<std::net::SocketAddr> {
    let addr = match (
        listen.parse::<std::net::SocketAddr>(),
        listen.trim_start_matches(':').parse::<u16>(),
    ) {
        (Ok(addr), _) => addr,
        (_, Ok(port)) => std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        _ => {
            diags.error(
                "observe.listen",
                format!(
                    "{listen:?} is not an address and port: write \"127.0.0.1:9187\" (or a port \
                     alone, which listens on 127.0.0.1)"
                ),
            );
            return None;
        }
    };
    if !addr.ip().is_loopback() {
        diags.warn(
            "observe.listen",
            format!(
                "{addr} is reachable from other hosts and the endpoints ask for no password: \
                 they carry no mail text, address or title, but they tell how much mail flows \
                 and how many incidents are open; let only your monitoring reach the port"
            ),
        );
    }
    Some(addr)
}
