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
}

impl Incident {
    async fn reported(extra: &str) -> Incident {
        let team = team_for_clock(extra);
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
        let mut i = Incident {
            source: Maildir::new(&team.site.path("maildir")),
            sink: FileSink::new(&team.site.path("outbox")).unwrap(),
            lease: store.lock_ingest().await.unwrap(),
            team,
            clock,
            service,
            id: String::new(),
            n: 0,
        };
        i.pass().await;
        i.id = store.open_incidents().await.unwrap()[0].id.to_string();
        i
    }

    async fn pass(&mut self) {
        self.service
            .run_once(&mut self.source, &self.sink, &never_stop(), &mut self.lease)
            .await
            .unwrap();
    }

    /// Alice signs `commands` now, and the service applies them.
    async fn alice(&mut self, commands: &[&str]) {
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
        self.pass().await;
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
