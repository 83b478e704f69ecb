//! `embargo advisory` and `embargo preview ID advisory`, end to end: an
//! incident driven by signed commands through the service on the simulated
//! clock, then the real binary writes its CVE record, OSV record and CSAF
//! advisory, each of which the official schemas accept.

mod common;

use std::sync::Arc;

use common::gpg::pgp_mime_signed;
use common::team::*;
use common::*;
use embargo::advisory::{Format, schema};
use embargo::clock::{Clock, ManualClock};
use embargo::config;
use embargo::crypto::Crypto;
use embargo::keyring;
use embargo::service::{Service, never_stop};
use embargo::sink::FileSink;
use embargo::source::Maildir;
use embargo::store::{IngestLock, SqliteStore, Store};
use jiff::Timestamp;

const ADVISORY: &str = r#"
[advisory]
vendor = "Example Project"
product = "frob"
ecosystem = "Go"
package = "example.org/frob"
collection_url = "https://pkg.go.dev"
cna_org_id = "8254265b-2729-46b6-b9e3-3dfca2d5bfca"
cna_short_name = "example"
osv_prefix = "x_EMB"
announcement_url = "https://example.org/security/{id}"
publisher_namespace = "https://example.org"
"#;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A Monday morning; the disclosure is a slot more than 7 days on.
const START: &str = "2027-01-04T09:00:00Z";
const SLOT: &str = "2027-01-20T16:00:00Z";

struct Incident {
    team: Team,
    clock: Arc<ManualClock>,
    service: Service,
    source: Maildir,
    sink: FileSink,
    lease: IngestLock,
    id: String,
    n: u32,
    seen: std::collections::HashSet<std::path::PathBuf>,
}

impl Incident {
    async fn reported(extra: &str) -> Incident {
        Incident::keyed(extra, |_| String::new()).await
    }

    /// As [`Incident::reported`], with config that names the team's keys:
    /// `keyed` is given Bob's fingerprint (his key is `keys/bob.asc`).
    async fn keyed(extra: &str, keyed: impl FnOnce(&str) -> String) -> Incident {
        let team = team_for_clock(extra);
        let more = keyed(&team.bob);
        let mut config = std::fs::read_to_string(team.site.config()).unwrap();
        config.push_str(&more);
        std::fs::write(team.site.config(), config).unwrap();
        team.site.deliver(&mail(
            "Jane Researcher <r@example.net>",
            "Overflow in frob()",
            "r1@example.net",
            "",
        ));
        let settings = Arc::new(config::load(&team.site.config()).unwrap().settings);
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&team.site.path("embargo.db"))
                .await
                .unwrap(),
        );
        let clock = Arc::new(ManualClock::new(t(START)));
        let keys = keyring::load(&settings, t(START)).unwrap();
        let service = Service::new(
            settings,
            store.clone(),
            clock.clone(),
            Crypto::new(keys.pgp),
        );
        // GnuPG checks our signatures with the list key it is given here.
        team.gpg.set_time(Some(t(START)));
        team.gpg
            .import(&std::fs::read(team.site.path("list-key.pub.asc")).unwrap());
        let mut i = Incident {
            source: Maildir::new(&team.site.path("maildir")),
            sink: FileSink::new(&team.site.path("outbox")).unwrap(),
            lease: store.lock_ingest().await.unwrap(),
            team,
            clock,
            service,
            id: String::new(),
            n: 0,
            seen: Default::default(),
        };
        i.pass().await;
        i.id = store.open_incidents().await.unwrap()[0].id.to_string();
        i
    }

    /// One pass of the service; the mail it sent.
    async fn pass(&mut self) -> Vec<Sent> {
        self.service
            .run_once(&mut self.source, &self.sink, &never_stop(), &mut self.lease)
            .await
            .unwrap();
        self.team
            .site
            .outbox()
            .into_iter()
            .filter(|m| self.seen.insert(m.file.clone()))
            .collect()
    }

    fn at(&self, when: &str) {
        self.clock.set(t(when));
    }

    /// Alice signs `commands` now, and the service applies them; the mail
    /// that pass sent.
    async fn alice(&mut self, commands: &[&str]) -> Vec<Sent> {
        self.n += 1;
        let id = &self.id;
        let text: String = commands.iter().map(|c| format!("{c} {id}\r\n")).collect();
        let h = reply(
            "Alice <alice@example.org>",
            id,
            "r1@example.net",
            &format!("cmd{}", self.n),
        );
        self.team.gpg.set_time(Some(self.clock.now()));
        let signed = pgp_mime_signed(&self.team.gpg, &self.team.alice, &h, &text);
        self.team.site.deliver(&signed);
        self.pass().await
    }
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn the_binary_writes_three_documents_the_official_schemas_accept() {
    let mut i = Incident::reported(ADVISORY).await;
    i.alice(&[
        "/accept",
        "/cve CVE-2027-1234",
        "/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "/cwe CWE-787 Out-of-bounds Write",
        "/set summary Heap overflow in frob's request parser",
        "/set affected >=2.3.0 <2.3.10, 2.4.0 - 2.4.1",
        "/set fixed 2.3.10, 2.4.2",
        "/set impact A remote attacker can run code as the frob user.",
        "/set releases https://example.org/releases/2.4.2",
        "/set credit Jane Researcher",
        "/disclose 2027-01-20",
    ])
    .await;
    let site = &i.team.site;
    let id = i.id.clone();
    let schemas = schema::schemas().unwrap();

    // Before the slot: the distributors' copy. A link planted under a
    // document's name is replaced, not written through.
    let out = site.path("advisories");
    std::fs::create_dir_all(&out).unwrap();
    let victim = site.path("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("CVE-2027-1234.json")).unwrap();
    site.ok(&[
        "advisory",
        &id,
        "--out",
        out.to_str().unwrap(),
        "--at",
        "2027-01-10T09:00:00Z",
    ]);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let csaf_name = format!("{}.csaf.json", id.to_lowercase());
    let osv_name = format!("x_EMB-{}.osv.json", &id["EMB-".len()..]);
    assert_eq!(names, {
        let mut want = vec![
            "CVE-2027-1234.json".to_owned(),
            csaf_name.clone(),
            osv_name.clone(),
        ];
        want.sort();
        want
    });
    for name in &names {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name} is embargoed: {mode:o}");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(
        !std::fs::symlink_metadata(out.join("CVE-2027-1234.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let cve = read_json(&out.join("CVE-2027-1234.json"));
    let osv = read_json(&out.join(&osv_name));
    let csaf = read_json(&out.join(&csaf_name));
    for (format, doc) in [
        (Format::Cve, &cve),
        (Format::Osv, &osv),
        (Format::Csaf, &csaf),
    ] {
        schemas.check(format, doc).unwrap();
    }
    // What the incident recorded, and nothing retyped.
    let cna = &cve["containers"]["cna"];
    assert_eq!(cna["datePublic"], SLOT);
    assert_eq!(cna["affected"][0]["versions"][0]["lessThan"], "2.3.10");
    assert_eq!(cna["metrics"][0]["cvssV3_1"]["baseScore"], 9.8);
    assert_eq!(cna["credits"][0]["value"], "Jane Researcher");
    assert_eq!(
        cna["problemTypes"][0]["descriptions"][0]["cweId"],
        "CWE-787"
    );
    assert_eq!(osv["aliases"][0], "CVE-2027-1234");
    assert_eq!(osv["published"], SLOT);
    assert_eq!(
        osv["affected"][0]["ranges"][1]["events"][1]["last_affected"],
        "2.4.1"
    );
    let d = &csaf["document"];
    assert_eq!(d["distribution"]["tlp"]["label"], "AMBER");
    assert_eq!(d["tracking"]["status"], "interim");

    // The slot passing is not the announcement: held or not approved,
    // the embargo holds and so does the distributors' copy.
    let after: serde_json::Value = serde_json::from_str(&site.ok(&[
        "advisory",
        &id,
        "--format",
        "csaf",
        "--at",
        "2027-01-20T16:00:00Z",
    ]))
    .unwrap();
    assert_eq!(after["document"]["distribution"]["tlp"]["label"], "AMBER");

    // Public: the public copy, on standard output.
    i.clock.set(t("2027-01-10T10:00:00Z"));
    i.alice(&["/public"]).await;
    let site = &i.team.site;
    let public: serde_json::Value = serde_json::from_str(&site.ok(&[
        "advisory",
        &id,
        "--format",
        "csaf",
        "--at",
        "2027-01-20T16:00:00Z",
    ]))
    .unwrap();
    schemas.check(Format::Csaf, &public).unwrap();
    assert_eq!(public["document"]["distribution"]["tlp"]["label"], "WHITE");
    assert_eq!(public["document"]["tracking"]["initial_release_date"], SLOT);

    // The preview shows all three, named.
    let preview = site.ok(&["preview", &id, "advisory", "--at", "2027-01-10T09:00:00Z"]);
    for name in ["CVE-2027-1234.json", &osv_name, &csaf_name] {
        assert!(preview.contains(&format!("== {name} (")), "{preview}");
    }
}

#[tokio::test]
async fn an_incident_that_lacks_what_a_format_needs_gets_the_list_and_no_document() {
    let mut i = Incident::reported(ADVISORY).await;
    i.alice(&[
        "/accept",
        "/cve CVE-2027-1234",
        "/set summary Heap overflow in frob's request parser",
        "/set affected every release before the fix",
    ])
    .await;
    let site = &i.team.site;
    let out = site.path("advisories");
    let run = site.embargo(&["advisory", &i.id, "--out", out.to_str().unwrap()]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    for need in ["/set affected >=2.3.0 <2.3.10", "/disclose YYYY-MM-DD"] {
        assert!(err.contains(need), "{err}");
    }
    assert!(
        std::fs::read_dir(&out).map_or(true, |mut d| d.next().is_none()),
        "no document is written"
    );
}

#[test]
fn without_advisory_config_the_command_says_what_to_add() {
    let site = Site::new();
    let run = site.embargo(&["advisory", "EMB-2027-0001", "--format", "cve"]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("has no [advisory]"), "{err}");
}

/// The mail sent to `who`.
fn to<'a>(sent: &'a [Sent], who: &str) -> Vec<&'a Sent> {
    sent.iter()
        .filter(|m| m.envelope_to.iter().any(|r| r == who))
        .collect()
}

/// A mail's attachments, by name, as JSON (none but the JSON ones).
fn json_attachments(raw: &[u8]) -> Vec<(String, serde_json::Value)> {
    use mail_parser::MimeHeaders;
    let msg = mail_parser::MessageParser::default().parse(raw).unwrap();
    msg.attachments()
        .filter_map(|a| {
            let name = a.attachment_name()?.to_owned();
            name.ends_with(".json").then(|| {
                let json = serde_json::from_slice(a.contents())
                    .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
                (name, json)
            })
        })
        .collect()
}

fn names(docs: &[(String, serde_json::Value)]) -> Vec<&str> {
    let mut n: Vec<&str> = docs.iter().map(|(n, _)| n.as_str()).collect();
    n.sort();
    n
}

fn format_of(name: &str) -> Format {
    if name.ends_with(".csaf.json") {
        Format::Csaf
    } else if name.ends_with(".osv.json") {
        Format::Osv
    } else {
        Format::Cve
    }
}

const SEALED: &str = "sealed@distro.example";
const PLAIN: &str = "plain@distro.example";

fn distributors(bob: &str) -> String {
    format!(
        "\n[[distributors]]\nname = \"Plain\"\nemail = \"{PLAIN}\"\n\
         \n[[distributors]]\nname = \"Sealed\"\nemail = \"{SEALED}\"\n\
         fingerprint = \"{bob}\"\nkey_file = \"keys/bob.asc\"\nencrypt = true\n\
         require_encryption = true\n"
    )
}

#[tokio::test]
async fn the_distributors_prepare_with_the_amber_csaf_sealed_and_the_announcement_carries_all_three()
 {
    let mut i = Incident::keyed(ADVISORY, distributors).await;
    i.at("2027-01-04T09:10:00Z");
    let sent = i
        .alice(&[
            "/accept",
            "/cve CVE-2027-1234",
            "/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "/cwe CWE-787 Out-of-bounds Write",
            "/set summary Heap overflow in frob's request parser",
            "/set affected >=2.3.0 <2.3.10, 2.4.0 - 2.4.1",
            "/set fixed 2.3.10, 2.4.2",
            "/set impact A remote attacker can run code as the frob user.",
            "/set releases https://example.org/releases/2.4.2",
            "/set credit Jane Researcher",
            "/set patch-embargoed no",
            "/disclose 2027-01-20",
            "/approve distributors",
            "/approve warning",
            "/approve announcement",
        ])
        .await;
    let schemas = schema::schemas().unwrap();
    let id = i.id.clone();
    let csaf_name = format!("{}.csaf.json", id.to_lowercase());
    let osv_name = format!("x_EMB-{}.osv.json", &id["EMB-".len()..]);

    // The advance notice: the CVE record draft and the AMBER CSAF, to
    // prepare with. In the clear for the distributor who takes it so...
    let plain = to(&sent, PLAIN);
    assert_eq!(plain.len(), 1, "the advance notice");
    let docs = json_attachments(&plain[0].raw);
    let mut want = vec!["CVE-2027-1234.json", csaf_name.as_str()];
    want.sort();
    assert_eq!(names(&docs), want);

    // ...and inside the ciphertext only for the one who asked for that.
    let sealed = to(&sent, SEALED);
    assert_eq!(sealed.len(), 1, "the sealed advance notice");
    let outside = outside_ciphertext(&sealed[0].raw);
    for secret in [
        "CVE-2027-1234",
        "csaf",
        "CSAF",
        "AMBER",
        ".json",
        "application/json",
        &id,
        &id.to_lowercase(),
    ] {
        assert!(
            !outside.contains(secret),
            "{secret:?} outside the ciphertext:\n{outside}"
        );
    }
    i.team
        .gpg
        .set_time(Some(i.clock.now() + jiff::SignedDuration::from_mins(1)));
    let opened = i.team.gpg.decrypt(&sealed[0].raw);
    assert!(opened.ok, "{}", opened.status);
    let docs = json_attachments(&opened.stdout);
    assert_eq!(names(&docs), want);
    for (name, doc) in &docs {
        schemas.check(format_of(name), doc).unwrap();
    }
    let csaf = &docs.iter().find(|(n, _)| *n == csaf_name).unwrap().1;
    assert_eq!(csaf["document"]["distribution"]["tlp"]["label"], "AMBER");
    assert_eq!(csaf["document"]["tracking"]["status"], "interim");
    let amber_version: u32 = csaf["document"]["tracking"]["version"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // At the slot: the announcement carries all three, public.
    i.at("2027-01-19T16:00:00Z");
    i.pass().await;
    i.at(SLOT);
    let sent = i.pass().await;
    let announced = to(&sent, "announce@example.org");
    assert_eq!(announced.len(), 1, "the announcement");
    let docs = json_attachments(&announced[0].raw);
    let mut all = vec!["CVE-2027-1234.json", csaf_name.as_str(), osv_name.as_str()];
    all.sort();
    assert_eq!(names(&docs), all);
    for (name, doc) in &docs {
        schemas.check(format_of(name), doc).unwrap();
    }
    let csaf = &docs.iter().find(|(n, _)| *n == csaf_name).unwrap().1;
    assert_eq!(csaf["document"]["distribution"]["tlp"]["label"], "WHITE");
    assert_eq!(csaf["document"]["tracking"]["status"], "final");
    // The public copy continues the one the distributors hold: first
    // released to them, then publicly, at a higher version.
    let tracking = &csaf["document"]["tracking"];
    assert_eq!(tracking["initial_release_date"], "2027-01-04T09:10:00Z");
    assert_eq!(tracking["current_release_date"], SLOT);
    let version: u32 = tracking["version"].as_str().unwrap().parse().unwrap();
    assert!(version > amber_version, "{tracking:#}");
    let summaries: Vec<&str> = tracking["revision_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        summaries,
        [
            "Advance notice to the distributors",
            "24-hour warning to the distributors",
            "Initial public release"
        ],
        "only releases, no SRC drafts"
    );
    let cve = &docs.iter().find(|(n, _)| n.starts_with("CVE-")).unwrap().1;
    assert_eq!(cve["containers"]["cna"]["datePublic"], SLOT);
}

#[tokio::test]
async fn a_notice_goes_without_the_document_its_incident_cannot_fill_and_status_says_what_is_missing()
 {
    let mut i = Incident::keyed(ADVISORY, distributors).await;
    i.at("2027-01-04T09:10:00Z");
    let sent = i
        .alice(&[
            "/accept",
            "/cve CVE-2027-1234",
            "/set summary Heap overflow in frob's request parser",
            "/set affected every release before the fix",
            "/set patch-embargoed no",
            "/disclose 2027-01-20",
        ])
        .await;
    // The draft the Fix Lead reviews says what keeps the advisories off.
    let draft = sent
        .iter()
        .find(|m| m.subject.contains("DRAFT distributors"))
        .unwrap_or_else(|| panic!("a draft of the advance notice: {sent:#?}"));
    assert!(
        draft.text.contains(
            "The CVE record and the CSAF advisory are not attached until the incident has:"
        ) && draft.text.contains(
            "  - the affected versions as versions (/set affected >=2.3.0 <2.3.10, or a list)"
        ),
        "{}",
        draft.text
    );

    // The notice goes as approved, with its calendar and no advisory.
    i.at("2027-01-04T09:20:00Z");
    let sent = i.alice(&["/approve distributors as-is"]).await;
    let plain = to(&sent, PLAIN);
    assert_eq!(plain.len(), 1, "the advance notice goes");
    assert!(json_attachments(&plain[0].raw).is_empty());
    assert!(
        String::from_utf8_lossy(&plain[0].raw).contains("disclosure.ics"),
        "the calendar is still there"
    );

    // /status lists what is missing, and only that.
    i.at("2027-01-04T09:30:00Z");
    let sent = i.alice(&["/status"]).await;
    let reply = sent
        .iter()
        .find(|m| m.subject.contains("Applied:"))
        .expect("the reply to /status");
    assert!(
        reply
            .text
            .contains("and the CSAF advisory are not attached until the incident has")
            && reply.text.contains("/set affected >=2.3.0 <2.3.10"),
        "{}",
        reply.text
    );
    assert!(
        !reply.text.contains("/disclose YYYY-MM-DD"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn without_advisory_config_the_notices_and_replies_are_as_before() {
    let mut i = Incident::keyed("", distributors).await;
    i.at("2027-01-04T09:10:00Z");
    let sent = i
        .alice(&[
            "/accept",
            "/cve CVE-2027-1234",
            "/set summary Heap overflow in frob's request parser",
            "/set patch-embargoed no",
            "/disclose 2027-01-20",
            "/approve distributors as-is",
        ])
        .await;
    assert_eq!(to(&sent, PLAIN).len(), 1, "the advance notice goes");
    for m in &sent {
        assert!(json_attachments(&m.raw).is_empty(), "{}", m.subject);
        for advisory_word in ["CSAF", "CVE record", "not attached until"] {
            assert!(!m.text.contains(advisory_word), "{}\n{}", m.subject, m.text);
        }
    }
}

/// Made public before its date (or with none planned), the announcement
/// carries the three documents, dated when it went out.
async fn published_early(planned: Option<&str>) {
    let mut i = Incident::keyed(ADVISORY, distributors).await;
    i.at("2027-01-04T09:10:00Z");
    let disclose = planned.map(|d| format!("/disclose {d}"));
    let mut commands = vec!["/accept"];
    commands.extend(disclose.as_deref());
    commands.extend([
        "/public",
        "/cve CVE-2027-1234",
        "/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "/set summary Heap overflow in frob's request parser",
        "/set affected >=2.3.0 <2.3.10",
        "/set fixed 2.3.10",
        "/set impact A remote attacker can run code as the frob user.",
        "/set releases https://example.org/releases/2.3.10",
        "/approve announcement",
    ]);
    let sent = i.alice(&commands).await;
    let announced = to(&sent, "announce@example.org");
    assert_eq!(announced.len(), 1, "public: announced once approved");
    let docs = json_attachments(&announced[0].raw);
    assert_eq!(docs.len(), 3, "{:?}", names(&docs));
    let schemas = schema::schemas().unwrap();
    for (name, doc) in &docs {
        schemas.check(format_of(name), doc).unwrap();
    }
    // Published when it went out, not on the date planned.
    let cve = &docs.iter().find(|(n, _)| n.starts_with("CVE-")).unwrap().1;
    assert_eq!(
        cve["containers"]["cna"]["datePublic"],
        "2027-01-04T09:10:00Z"
    );
}

#[tokio::test]
async fn published_early_without_a_date_the_announcement_still_carries_the_documents() {
    published_early(None).await;
}

#[tokio::test]
async fn published_early_with_a_date_planned_the_documents_say_when_it_went_out() {
    published_early(Some("2027-01-20")).await;
}
