//! The disclosure plan under change, on the simulated clock, through the
//! service on real adapters: each move told once and in order, warnings
//! that follow the date, notices held rather than sent late, cancellations,
//! and one broken incident beside a healthy one. Commands are signed by
//! GnuPG at the simulated time; what we send is verified by GnuPG and its
//! calendar entries are read by the `icalendar` crate's parser.

mod common;

use std::sync::Arc;

use common::gpg::{pgp_mime_signed, signed_parts};
use common::team::*;
use common::*;
use embargo::clock::{Clock, ManualClock};
use embargo::config;
use embargo::crypto::Crypto;
use embargo::keyring;
use embargo::service::{Service, never_stop};
use embargo::sink::FileSink;
use embargo::source::Maildir;
use embargo::store::{IngestLock, SqliteStore, Store};
use jiff::{SignedDuration, Timestamp};

/// Two distributors whose addresses differ only in punctuation: their
/// notices must not collide anywhere (Message-ID, outbox key, record).
const DOT: &str = "sec.team@distro.example";
const PLUS: &str = "sec+team@distro.example";

fn distributors() -> String {
    format!(
        "[[distributors]]\nname = \"Dot\"\nemail = \"{DOT}\"\n\n\
         [[distributors]]\nname = \"Plus\"\nemail = \"{PLUS}\"\n"
    )
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A Monday morning, well before every slot the tests plan.
const START: &str = "2027-01-04T09:00:00Z";
/// Two slots (Wednesday and Thursday, 16:00 UTC) more than 7 days on.
const A: &str = "2027-01-20";
const B: &str = "2027-01-21";

/// One team, one reported incident, and the service on a clock the test
/// moves; each pass returns the mail it sent.
struct Plan {
    team: Team,
    clock: Arc<ManualClock>,
    service: Service,
    source: Maildir,
    sink: FileSink,
    store: Arc<dyn Store>,
    lease: IngestLock,
    id: String,
    seen: std::collections::HashSet<std::path::PathBuf>,
    n: u32,
}

impl Plan {
    async fn new(extra: &str) -> Plan {
        Plan::keyed(extra, |_| String::new()).await
    }

    /// As [`Plan::new`], with config that names the team's keys: `keyed`
    /// is given Bob's fingerprint (his key is `keys/bob.asc`).
    async fn keyed(extra: &str, keyed: impl FnOnce(&str) -> String) -> Plan {
        let team = team_for_clock(&format!("{}\n{extra}", distributors()));
        let site = &team.site;
        let more = keyed(&team.bob);
        let mut config = std::fs::read_to_string(site.config()).unwrap();
        config.push_str(&more);
        std::fs::write(site.config(), config).unwrap();
        site.deliver(&mail(
            "Reporter <r@example.net>",
            "Overflow in frob()",
            "r1@example.net",
            "",
        ));
        let now = t(START);
        let settings = Arc::new(config::load(&site.config()).unwrap().settings);
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&site.path("embargo.db")).await.unwrap());
        let clock = Arc::new(ManualClock::new(now));
        let keys = keyring::load(&settings, now).unwrap();
        let service = Service::new(
            settings,
            store.clone(),
            clock.clone(),
            Crypto::new(keys.pgp),
        );
        let source = Maildir::new(&site.path("maildir"));
        let sink = FileSink::new(&site.path("outbox")).unwrap();
        // GnuPG checks our signatures with the list key it is given here
        // (made in 2025: GnuPG's clock must be past that).
        team.gpg.set_time(Some(now));
        team.gpg
            .import(&std::fs::read(site.path("list-key.pub.asc")).unwrap());
        let mut plan = Plan {
            team,
            clock,
            service,
            source,
            sink,
            lease: store.lock_ingest().await.unwrap(),
            store,
            id: String::new(),
            seen: Default::default(),
            n: 0,
        };
        plan.pass().await;
        let incidents = plan.store.open_incidents().await.unwrap();
        assert_eq!(incidents.len(), 1);
        plan.id = incidents[0].id.to_string();
        plan
    }

    fn at(&self, when: &str) {
        self.clock.set(t(when));
    }

    /// Alice signs `commands` (each line ends with the incident id) now.
    fn alice(&mut self, commands: &[&str]) {
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
    }

    /// One pass of the service; the mail it sent, in the order written.
    async fn pass(&mut self) -> Vec<Sent> {
        self.service
            .run_once(&mut self.source, &self.sink, &never_stop(), &mut self.lease)
            .await
            .unwrap();
        let mut new: Vec<Sent> = self
            .team
            .site
            .outbox()
            .into_iter()
            .filter(|m| self.seen.insert(m.file.clone()))
            .collect();
        new.sort_by_key(|m| std::fs::metadata(&m.file).unwrap().modified().unwrap());
        new
    }

    /// The commands of the pass's signed mail were applied: its reply says so.
    fn applied(sent: &[Sent]) {
        let reply = sent
            .iter()
            .find(|m| m.subject.contains("Applied:") || m.subject.contains("Not applied:"))
            .unwrap_or_else(|| panic!("no reply to the commands: {:#?}", subjects(sent)));
        assert!(
            reply.subject.contains("Applied:"),
            "{}\n{}",
            reply.subject,
            reply.text
        );
    }

    /// GnuPG verifies the mail's PGP/MIME signature with the list key.
    fn verified(&self, m: &Sent) {
        let (data, signature) = signed_parts(&m.raw);
        self.team
            .gpg
            .set_time(Some(self.clock.now() + SignedDuration::from_mins(1)));
        let run = self.team.gpg.verify_detached(&signature, &data);
        assert!(run.ok, "{}: {}", m.subject, run.status);
    }

    async fn incident(&self) -> embargo::core::incident::Incident {
        self.store
            .incident(&self.id.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .incident
    }
}

fn subjects(sent: &[Sent]) -> Vec<(String, Vec<String>)> {
    sent.iter()
        .map(|m| (m.subject.clone(), m.envelope_to.clone()))
        .collect()
}

fn to<'a>(sent: &'a [Sent], who: &str) -> Vec<&'a Sent> {
    sent.iter()
        .filter(|m| m.envelope_to.iter().any(|r| r == who))
        .collect()
}

/// What a calendar entry we sent says, read by the `icalendar` parser.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    method: String,
    uid: String,
    sequence: u32,
    start: String,
    status: Option<String>,
}

fn calendar(m: &Sent) -> Entry {
    use mail_parser::MimeHeaders;
    let msg = mail_parser::MessageParser::default().parse(&m.raw).unwrap();
    let part = msg
        .attachments()
        .find(|a| a.attachment_name() == Some("disclosure.ics"))
        .unwrap_or_else(|| panic!("{}: no disclosure.ics", m.subject));
    let text = String::from_utf8(part.contents().to_vec()).unwrap();
    let unfolded = icalendar::parser::unfold(&text);
    let cal = icalendar::parser::read_calendar(&unfolded)
        .unwrap_or_else(|e| panic!("{}: the calendar does not parse: {e}\n{text}", m.subject));
    let prop = |props: &[icalendar::parser::Property<'_>], name: &str| {
        props
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.val.as_str().to_owned())
    };
    let events: Vec<_> = cal
        .components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .collect();
    assert_eq!(events.len(), 1, "{text}");
    let e = &events[0].properties;
    Entry {
        method: prop(&cal.properties, "METHOD").expect("a METHOD"),
        uid: prop(e, "UID").expect("a UID"),
        sequence: prop(e, "SEQUENCE").expect("a SEQUENCE").parse().unwrap(),
        start: prop(e, "DTSTART").expect("a DTSTART"),
        status: prop(e, "STATUS"),
    }
}

#[tokio::test]
async fn a_date_moved_back_and_forth_is_told_each_time_in_order() {
    let mut p = Plan::new("").await;
    p.at("2027-01-04T09:10:00Z");
    p.alice(&[
        "/accept",
        "/cve CVE-2027-1001",
        &format!("/disclose {A}"),
        "/approve distributors as-is",
    ]);
    let first = p.pass().await;
    Plan::applied(&first);
    let mut told = first;
    // A → B → A → B, an hour apart.
    for (n, date) in [B, A, B].iter().enumerate() {
        p.at(&format!("2027-01-04T1{n}:30:00Z"));
        p.alice(&[&format!("/disclose {date}")]);
        let sent = p.pass().await;
        Plan::applied(&sent);
        told.extend(sent);
    }

    let a = format!("{}T160000Z", A.replace('-', ""));
    let b = format!("{}T160000Z", B.replace('-', ""));
    let mut uids = Vec::new();
    for who in [DOT, PLUS] {
        let notices = to(&told, who);
        assert_eq!(
            notices.len(),
            4,
            "{who}: the advance notice and three moves: {:#?}",
            subjects(&told)
        );
        let entries: Vec<Entry> = notices.iter().map(|m| calendar(m)).collect();
        let starts: Vec<&str> = entries.iter().map(|e| e.start.as_str()).collect();
        assert_eq!(starts, [&a, &b, &a, &b], "{who}: told in order");
        let sequences: Vec<u32> = entries.iter().map(|e| e.sequence).collect();
        assert!(
            sequences.windows(2).all(|w| w[0] < w[1]),
            "{who}: each move a higher SEQUENCE: {sequences:?}"
        );
        assert!(entries.iter().all(|e| e.method == "REQUEST"));
        assert!(entries.iter().all(|e| e.uid == entries[0].uid), "one UID");
        uids.push(entries[0].uid.clone());
        // Each move names the date it replaces and the new one.
        let moves = &notices[1..];
        for (m, (from, to)) in moves.iter().zip([(A, B), (B, A), (A, B)]) {
            assert!(m.subject.contains("new disclosure date"), "{}", m.subject);
            let line = |label: &str| {
                m.text
                    .lines()
                    .find(|l| l.trim_start().starts_with(label))
                    .unwrap_or_else(|| panic!("no {label} line: {}", m.text))
                    .to_owned()
            };
            assert!(
                line("before:").ends_with(&format!("{from} 16:00 UTC")),
                "{}",
                m.text
            );
            assert!(
                line("now:").ends_with(&format!("{to} 16:00 UTC")),
                "{}",
                m.text
            );
        }
        for m in &notices {
            p.verified(m);
        }
    }
    assert_eq!(uids[0], uids[1], "one calendar entry per incident");
    let mut ids: Vec<&str> = told.iter().map(|m| m.message_id.as_str()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "every mail has its own Message-ID");

    // What the incident records as told is what was sent last.
    let i = p.incident().await;
    assert_eq!(i.details.told_date, Some(t(&format!("{B}T16:00:00Z"))));
    // Nothing more is owed: another pass sends nothing.
    p.at("2027-01-04T15:00:00Z");
    assert_eq!(subjects(&p.pass().await), []);
}

#[tokio::test]
async fn a_move_after_the_warning_owes_a_new_warning_and_nothing_goes_at_the_old_date() {
    let mut p = Plan::new("").await;
    p.at("2027-01-04T09:10:00Z");
    p.alice(&[
        "/accept",
        "/cve CVE-2027-1002",
        &format!("/disclose {A}"),
        "/approve distributors as-is",
        "/approve warning as-is",
        "/approve announcement as-is",
    ]);
    Plan::applied(&p.pass().await);

    p.at(&format!("{}T16:00:00Z", "2027-01-19"));
    let warned = p.pass().await;
    for who in [DOT, PLUS] {
        let w = to(&warned, who);
        assert_eq!(w.len(), 1, "{who}: {:#?}", subjects(&warned));
        assert!(
            w[0].text.contains(&format!("{A} 16:00 UTC")),
            "{}",
            w[0].text
        );
        p.verified(w[0]);
    }

    // A blocker: a week later.
    let later = "2027-01-27";
    p.at("2027-01-19T17:00:00Z");
    p.alice(&[&format!("/disclose {later}")]);
    let moved = p.pass().await;
    Plan::applied(&moved);
    for who in [DOT, PLUS] {
        let m = to(&moved, who);
        assert_eq!(m.len(), 1, "{who}: {:#?}", subjects(&moved));
        assert!(m[0].subject.contains("new disclosure date"));
    }
    // The warning and announcement say the new date now: approved again.
    p.at("2027-01-19T18:00:00Z");
    p.alice(&["/approve warning as-is", "/approve announcement as-is"]);
    Plan::applied(&p.pass().await);

    // The old slot passes in silence.
    p.at(&format!("{A}T16:00:00Z"));
    let at_old = p.pass().await;
    assert!(
        to(&at_old, "announce@example.org").is_empty(),
        "{:#?}",
        subjects(&at_old)
    );
    assert!(to(&at_old, DOT).is_empty(), "{:#?}", subjects(&at_old));

    p.at("2027-01-26T16:00:00Z");
    let warned_again = p.pass().await;
    for who in [DOT, PLUS] {
        let w = to(&warned_again, who);
        assert_eq!(w.len(), 1, "{who}: {:#?}", subjects(&warned_again));
        assert!(
            w[0].text.contains(&format!("{later} 16:00 UTC")),
            "{}",
            w[0].text
        );
        assert_ne!(w[0].message_id, to(&warned, who)[0].message_id);
        p.verified(w[0]);
    }

    p.at(&format!("{later}T16:00:00Z"));
    let public = p.pass().await;
    let announced = to(&public, "announce@example.org");
    assert_eq!(announced.len(), 1, "{:#?}", subjects(&public));
    p.verified(announced[0]);
}

#[tokio::test]
async fn an_announcement_whose_advance_notice_was_never_approved_is_held_and_alerted() {
    let mut p = Plan::new("").await;
    p.at("2027-01-04T09:10:00Z");
    p.alice(&[
        "/accept",
        "/cve CVE-2027-1003",
        &format!("/disclose {A}"),
        "/approve warning as-is",
        "/approve announcement as-is",
    ]);
    Plan::applied(&p.pass().await);

    // The warning would say "public in 24 hours" to distributors who
    // never heard of it: held, and those who can act are told.
    p.at("2027-01-19T16:00:00Z");
    let day_before = p.pass().await;
    assert!(
        to(&day_before, DOT).is_empty(),
        "{:#?}",
        subjects(&day_before)
    );
    let alert = day_before
        .iter()
        .find(|m| m.subject.contains("24-hour warning is held"))
        .unwrap_or_else(|| panic!("{:#?}", subjects(&day_before)));
    assert!(alert.envelope_to.contains(&"src@example.org".to_owned()));
    assert!(alert.envelope_to.contains(&"alice@example.org".to_owned()));

    p.at(&format!("{A}T16:00:00Z"));
    let at_slot = p.pass().await;
    assert!(
        to(&at_slot, "announce@example.org").is_empty(),
        "nothing public: {:#?}",
        subjects(&at_slot)
    );
    let held = at_slot
        .iter()
        .find(|m| m.subject.contains("announcement is held"))
        .unwrap_or_else(|| panic!("{:#?}", subjects(&at_slot)));
    assert!(
        held.envelope_to.contains(&"src@example.org".to_owned())
            && held.envelope_to.contains(&"alice@example.org".to_owned()),
        "{:?}",
        held.envelope_to
    );
    // The next slot that keeps the rules if planned within a day: 7 days
    // after that day, a Thursday.
    assert!(
        held.text.contains("never got the advance notice"),
        "{}",
        held.text
    );
    assert!(
        held.text.contains("/disclose 2027-01-28 16:00"),
        "{}",
        held.text
    );
    p.verified(held);
    assert_eq!(p.incident().await.state.as_str(), "disclosure-planned");

    // `embargo schedule` shows it held, and why.
    let shown = p
        .team
        .site
        .ok(&["schedule", "--at", &format!("{A}T16:30:00Z")]);
    assert!(
        shown.contains("held") && shown.contains("never got the advance notice"),
        "{shown}"
    );

    // Told once: the next pass is quiet.
    p.at(&format!("{A}T17:00:00Z"));
    assert_eq!(subjects(&p.pass().await), []);

    // The Fix Lead follows the alert: the new date, and the advance notice.
    p.alice(&[
        "/disclose 2027-01-28 16:00",
        "/approve distributors as-is",
        "/approve warning as-is",
        "/approve announcement as-is",
    ]);
    let replanned = p.pass().await;
    Plan::applied(&replanned);
    assert_eq!(to(&replanned, DOT).len(), 1, "{:#?}", subjects(&replanned));
    p.at("2027-01-27T16:00:00Z");
    assert_eq!(to(&p.pass().await, PLUS).len(), 1, "the warning");
    p.at("2027-01-28T16:00:00Z");
    assert_eq!(to(&p.pass().await, "announce@example.org").len(), 1);
}

#[tokio::test]
async fn a_cve_after_disclose_that_makes_the_advance_notice_late_holds_it() {
    let mut p = Plan::new("").await;
    p.at("2027-01-04T09:10:00Z");
    p.alice(&["/accept", &format!("/disclose {A}")]);
    Plan::applied(&p.pass().await);

    // Five days before the slot a CVE makes an advance notice owed.
    p.at("2027-01-15T10:00:00Z");
    p.alice(&["/cve CVE-2027-1004", "/approve distributors as-is"]);
    let late = p.pass().await;
    Plan::applied(&late);
    assert!(to(&late, DOT).is_empty(), "{:#?}", subjects(&late));
    assert!(to(&late, PLUS).is_empty(), "{:#?}", subjects(&late));
    let alert = late
        .iter()
        .find(|m| m.subject.contains("advance notice is held"))
        .unwrap_or_else(|| panic!("{:#?}", subjects(&late)));
    assert!(
        alert.envelope_to.contains(&"alice@example.org".to_owned()),
        "the commander is told: {:?}",
        alert.envelope_to
    );
    assert!(alert.text.contains("5 days"), "{}", alert.text);
    // The next slot 7 days after a day to answer: Monday 2027-01-25 16:00 UTC.
    assert!(
        alert.text.contains("/disclose 2027-01-25 16:00"),
        "{}",
        alert.text
    );
    assert!(
        alert
            .text
            .contains(&format!("/disclose {A} 16:00 short-notice"))
    );

    // The Fix Lead takes the short notice: the notice goes.
    p.at("2027-01-15T11:00:00Z");
    p.alice(&[
        &format!("/disclose {A} short-notice"),
        "/approve distributors as-is",
    ]);
    let short = p.pass().await;
    Plan::applied(&short);
    assert_eq!(to(&short, DOT).len(), 1, "{:#?}", subjects(&short));
    assert_eq!(to(&short, PLUS).len(), 1, "{:#?}", subjects(&short));
}

#[tokio::test]
async fn a_cancelled_disclosure_is_told_and_taken_out_of_the_calendars() {
    let mut p = Plan::new("").await;
    p.at("2027-01-04T09:10:00Z");
    p.alice(&[
        "/accept",
        "/cve CVE-2027-1005",
        &format!("/disclose {A}"),
        "/approve distributors as-is",
        "/approve warning as-is",
        "/approve announcement as-is",
    ]);
    let first = p.pass().await;
    let advance = calendar(to(&first, DOT)[0]);
    assert_eq!(advance.method, "REQUEST");

    p.at("2027-01-06T09:00:00Z");
    p.alice(&["/close"]);
    let closed = p.pass().await;
    Plan::applied(&closed);
    for who in [DOT, PLUS] {
        let c = to(&closed, who);
        assert_eq!(c.len(), 1, "{who}: {:#?}", subjects(&closed));
        assert!(
            c[0].subject.contains("disclosure cancelled"),
            "{}",
            c[0].subject
        );
        assert!(
            c[0].text.contains(&format!("{A} 16:00 UTC")),
            "{}",
            c[0].text
        );
        let entry = calendar(c[0]);
        assert_eq!(entry.method, "CANCEL");
        assert_eq!(entry.status.as_deref(), Some("CANCELLED"));
        assert_eq!(entry.uid, advance.uid);
        assert!(entry.sequence > advance.sequence);
        p.verified(c[0]);
    }
    let i = p.incident().await;
    assert_eq!(i.state.as_str(), "cancelled");
    assert!(i.details.is_queued("cancellation"), "recorded once sent");

    // Later mail in the thread brings no second cancellation.
    p.at("2027-01-07T09:00:00Z");
    p.team.site.deliver(&mail(
        "Reporter <r@example.net>",
        "Re: [EMB-2027-0001] Overflow in frob()",
        "r1-later@example.net",
        "In-Reply-To: <r1@example.net>\r\n",
    ));
    let later = p.pass().await;
    assert!(to(&later, DOT).is_empty(), "{:#?}", subjects(&later));

    // Nothing goes at the slot, and the cancellation goes once.
    p.at(&format!("{A}T16:00:00Z"));
    let at_slot = p.pass().await;
    assert_eq!(subjects(&at_slot), []);
}

#[tokio::test]
async fn a_broken_incident_row_does_not_stop_a_healthy_incidents_mail() {
    let mut p = Plan::new("").await;
    // A second incident is taken in; its row breaks before its
    // acknowledgement goes.
    p.team.site.deliver(&mail(
        "Other <o@example.net>",
        "Crash in parse()",
        "r2@example.net",
        "",
    ));
    p.service
        .ingest(&mut p.source, &never_stop(), &mut p.lease)
        .await
        .unwrap();
    let broken = p
        .store
        .open_incidents()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.id.to_string() != p.id)
        .unwrap()
        .id
        .to_string();
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        p.team.site.path("embargo.db").display()
    ))
    .await
    .unwrap();
    let set_state = |state: &'static str| {
        sqlx::query("UPDATE incidents SET state = ? WHERE id = ?")
            .bind(state)
            .bind(broken.clone())
            .execute(&pool)
    };
    set_state("no-such-state").await.unwrap();

    p.at("2027-01-04T09:10:00Z");
    p.alice(&[
        "/accept",
        "/cve CVE-2027-1006",
        &format!("/disclose {A}"),
        "/approve distributors as-is",
    ]);
    let sent = p.pass().await;
    assert_eq!(to(&sent, DOT).len(), 1, "{:#?}", subjects(&sent));
    assert_eq!(to(&sent, PLUS).len(), 1, "{:#?}", subjects(&sent));
    let stuck = sent
        .iter()
        .filter(|m| m.subject.contains(&broken) && m.subject.contains("cannot be moved on"))
        .collect::<Vec<_>>();
    assert_eq!(stuck.len(), 1, "{:#?}", subjects(&sent));
    assert_eq!(stuck[0].envelope_to, ["src@example.org"]);
    assert!(stuck[0].text.contains("no-such-state"), "{}", stuck[0].text);
    // `embargo schedule` names it and still shows the healthy plan.
    let shown = p
        .team
        .site
        .ok(&["schedule", "--at", "2027-01-04T09:30:00Z"]);
    assert!(
        shown.contains(&format!("{broken} cannot be read")) && shown.contains(&p.id),
        "{shown}"
    );
    // The broken incident's own mail waits; it is not thrown away.
    assert!(
        to(&sent, "o@example.net").is_empty(),
        "{:#?}",
        subjects(&sent)
    );
    let waiting = p.store.outbox().await.unwrap();
    let ack = waiting
        .iter()
        .find(|m| m.recipients == ["o@example.net"])
        .unwrap();
    assert_eq!(ack.state, embargo::store::OutboxState::Pending, "{ack:?}");
    assert!(
        ack.last_error
            .as_deref()
            .unwrap()
            .contains("cannot be read")
    );

    // The alert goes once per error, however many passes find it.
    p.at("2027-01-04T12:00:00Z");
    assert_eq!(subjects(&p.pass().await), []);

    // Repaired: the waiting mail goes.
    set_state("reported").await.unwrap();
    p.at("2027-01-04T14:00:00Z");
    let after = p.pass().await;
    assert_eq!(
        to(&after, "o@example.net").len(),
        1,
        "{:#?}",
        subjects(&after)
    );
}

#[tokio::test]
async fn the_fix_team_gets_the_drafts_and_the_notices_encrypted_when_a_key_is_known() {
    let mut p = Plan::new("").await;
    p.at("2027-01-04T09:10:00Z");
    // Bob is on the roster (his key is known); dev@fix.example is not.
    p.alice(&[
        "/accept",
        "/team add dev@fix.example",
        "/team add bob@example.net",
    ]);
    Plan::applied(&p.pass().await);
    p.at("2027-01-04T09:20:00Z");
    p.alice(&[
        "/cve CVE-2027-1007",
        &format!("/disclose {A}"),
        "/approve distributors as-is",
    ]);
    let sent = p.pass().await;
    Plan::applied(&sent);

    let dev = to(&sent, "dev@fix.example");
    let drafts = dev.iter().filter(|m| m.subject.contains("DRAFT")).count();
    assert!(drafts >= 2, "the drafts: {:#?}", subjects(&sent));
    let advance: Vec<_> = dev
        .iter()
        .filter(|m| m.subject.starts_with("[EMBARGOED]"))
        .collect();
    assert_eq!(
        advance.len(),
        1,
        "the advance notice: {:#?}",
        subjects(&sent)
    );
    assert_eq!(calendar(advance[0]).method, "REQUEST");
    for m in &dev {
        assert_eq!(m.envelope_to, ["dev@fix.example"]);
        p.verified(m);
    }

    // Bob's copies are sealed to his key: only he can read them.
    let bob = to(&sent, "bob@example.net");
    assert_eq!(bob.len(), dev.len(), "{:#?}", subjects(&sent));
    for m in &bob {
        let raw = String::from_utf8_lossy(&m.raw);
        assert!(raw.contains("multipart/encrypted"), "{}", m.subject);
        assert!(!outside_ciphertext(&m.raw).contains("CVE-2027-1007"));
        p.team
            .gpg
            .set_time(Some(p.clock.now() + SignedDuration::from_mins(1)));
        let opened = p.team.gpg.decrypt(&m.raw);
        assert!(opened.ok, "{}", opened.status);
        assert!(String::from_utf8_lossy(&opened.stdout).contains("CVE-2027-1007"));
    }
}

#[tokio::test]
async fn short_notice_without_the_advance_notice_sends_nothing_to_anyone() {
    let mut p = Plan::new("").await;
    p.at("2027-01-04T09:10:00Z");
    p.alice(&["/accept", "/cve CVE-2027-1008", &format!("/disclose {A}")]);
    Plan::applied(&p.pass().await);
    // Three days before: short notice, the warning and the announcement
    // approved, the advance notice (and its patches) never.
    p.at("2027-01-17T10:00:00Z");
    p.alice(&[
        &format!("/disclose {A} short-notice"),
        "/approve warning as-is",
        "/approve announcement as-is",
    ]);
    Plan::applied(&p.pass().await);
    for at in ["2027-01-19T16:00:00Z", &format!("{A}T16:00:00Z")] {
        p.at(at);
        let sent = p.pass().await;
        for who in [DOT, PLUS, "announce@example.org"] {
            assert!(
                to(&sent, who).is_empty(),
                "{at} {who}: {:#?}",
                subjects(&sent)
            );
        }
    }
    assert_eq!(p.incident().await.details.advance_at, None);
}

#[tokio::test]
async fn every_encrypted_mail_keeps_the_embargoed_facts_inside_its_ciphertext() {
    // Bob's key stands for a distributor who requires encryption; Bob is
    // also on the roster (SRC copies) and joins the Fix Team.
    let mut p = Plan::keyed("", |bob| {
        format!(
            "\n[[distributors]]\nname = \"Sealed\"\nemail = \"sealed@distro.example\"\n\
             fingerprint = \"{bob}\"\nkey_file = \"keys/bob.asc\"\nencrypt = true\n\
             require_encryption = true\n"
        )
    })
    .await;
    // A second report, encrypted to the list key: its SRC copies go to
    // each member encrypted.
    let list = p.team.site.json(&["keys", "show"])["list_key"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    p.team.site.deliver(&common::gpg::pgp_mime_encrypted(
        &p.team.gpg,
        &list,
        None,
        &common::gpg::headers(
            "Reporter <r2@example.net>",
            "Secret sauce leak in frobnicator",
            "r2@example.net",
            "",
        ),
        "Content-Type: text/plain\r\n\r\nThe frobnicator leaks.\r\n",
    ));
    p.at("2027-01-04T09:10:00Z");
    p.alice(&["/accept", "/team add bob@example.net"]);
    let mut sent = p.pass().await;
    p.at("2027-01-04T09:20:00Z");
    p.alice(&[
        "/cve CVE-2027-1009",
        "/set summary Heap overflow in the frob parser",
        "/set affected 1.0 to 1.4",
        "/set fixed 1.5",
        &format!("/disclose {A}"),
        "/approve distributors as-is",
    ]);
    let more = p.pass().await;
    Plan::applied(&more);
    sent.extend(more);

    // The facts, and what says which incident and when: its id, its date.
    let incident_id = p.id.clone();
    let embargoed = [
        "CVE-2027-1009",
        "Heap overflow",
        "Overflow in frob()",
        "Secret sauce",
        "frobnicator",
        incident_id.as_str(),
        "EMB-2027-0002",
        "2027-01-20",
        &t(&format!("{A}T16:00:00Z")).as_second().to_string(),
    ];
    let encrypted: Vec<&Sent> = sent
        .iter()
        .filter(|m| String::from_utf8_lossy(&m.raw).contains("multipart/encrypted"))
        .collect();
    p.team
        .gpg
        .set_time(Some(p.clock.now() + SignedDuration::from_mins(1)));
    let mut seen = Vec::new();
    for m in &encrypted {
        let outside = outside_ciphertext(&m.raw);
        for secret in embargoed {
            assert!(
                !outside.contains(secret),
                "{}: {secret:?} outside the ciphertext:\n{outside}",
                m.message_id
            );
        }
        let parsed = mail_parser::MessageParser::default().parse(&m.raw).unwrap();
        assert_eq!(parsed.subject(), Some("[EMBARGOED] encrypted mail"));

        // Inside, the real header fields, marked as the protected copy.
        let opened = p.team.gpg.decrypt(&m.raw);
        assert!(opened.ok, "{}: {}", m.message_id, opened.status);
        let inner = mail_parser::MessageParser::default()
            .parse(&opened.stdout)
            .unwrap();
        assert_eq!(inner.message_id(), Some(m.message_id.as_str()));
        assert_eq!(
            inner.to().unwrap().first().unwrap().address(),
            Some(m.envelope_to[0].as_str())
        );
        let subject = inner.subject().unwrap_or_default().to_owned();
        seen.push((subject.clone(), m.envelope_to.clone()));
        let ct = mail_parser::MimeHeaders::content_type(&inner).unwrap();
        assert_eq!(ct.attribute("hp"), Some("cipher"), "{subject}");
        assert_eq!(ct.attribute("protected-headers"), Some("v1"));
        assert_eq!(
            inner.header_raw("HP-Outer").map(str::trim),
            Some("Subject: [EMBARGOED] encrypted mail")
        );
    }
    let sealed = |to: &str, says: &str| {
        seen.iter()
            .any(|(s, t)| (to.is_empty() || t == &[to]) && s.contains(says))
    };
    assert!(
        sealed("sealed@distro.example", "CVE-2027-1009"),
        "the distributor's notice: {seen:#?}"
    );
    assert!(
        sealed("", "Secret sauce"),
        "the encrypted report's SRC copy: {seen:#?}"
    );
    assert!(
        sealed("bob@example.net", "DRAFT"),
        "a Fix Team draft: {seen:#?}"
    );
}

#[tokio::test]
async fn a_correction_after_the_advance_notice_reaches_the_distributors_once_approved() {
    let mut p = Plan::new("").await;
    p.at("2027-01-04T09:10:00Z");
    p.alice(&[
        "/accept",
        "/cve CVE-2027-1010",
        "/set patch-embargoed no",
        "/set summary Heap overflow in frob",
        "/set affected 1.0 to 1.4",
        "/set fixed 1.5",
        "/set impact remote code execution",
        "/set releases https://example.org/releases",
        &format!("/disclose {A}"),
        "/approve distributors",
    ]);
    let sent = p.pass().await;
    Plan::applied(&sent);
    assert_eq!(to(&sent, DOT).len(), 1, "the advance notice");

    // The fix moved to 1.6: drafted for the team, nothing to distributors yet.
    p.at("2027-01-05T09:00:00Z");
    p.alice(&["/set fixed 1.6"]);
    let sent = p.pass().await;
    Plan::applied(&sent);
    assert!(to(&sent, DOT).is_empty(), "{:#?}", subjects(&sent));
    let schedule = embargo::core::timeline::plan(
        &p.incident().await,
        &embargo::core::timeline::Rules {
            distributors: true,
            slots: &embargo::core::slot::SlotRules::default(),
        },
        p.clock.now(),
    );
    assert!(
        schedule
            .iter()
            .any(|l| l.notice == "corrected advance notice" && l.state.starts_with("waiting")),
        "{schedule:#?}"
    );

    p.at("2027-01-05T09:10:00Z");
    p.alice(&["/approve distributors"]);
    let sent = p.pass().await;
    Plan::applied(&sent);
    for who in [DOT, PLUS] {
        let got = to(&sent, who);
        assert_eq!(got.len(), 1, "{who}: {:#?}", subjects(&sent));
        let m = got[0];
        assert!(
            m.subject.starts_with("[EMBARGOED] CORRECTED CVE-2027-1010"),
            "{}",
            m.subject
        );
        assert!(m.text.contains("fixed: 1.6 (was 1.5)"), "{}", m.text);
        p.verified(m);
    }
    p.at("2027-01-05T10:00:00Z");
    let sent = p.pass().await;
    assert!(
        to(&sent, DOT).is_empty(),
        "told once: {:#?}",
        subjects(&sent)
    );
    // The schedule keeps it, as queued (the CLI reads its outbox mail).
    let schedule = embargo::core::timeline::plan(
        &p.incident().await,
        &embargo::core::timeline::Rules {
            distributors: true,
            slots: &embargo::core::slot::SlotRules::default(),
        },
        p.clock.now(),
    );
    let lines: Vec<_> = schedule
        .iter()
        .filter(|l| l.notice == "corrected advance notice")
        .collect();
    assert_eq!(lines.len(), 1, "{schedule:#?}");
    assert!(
        lines[0]
            .queued
            .as_deref()
            .is_some_and(|k| k.starts_with("correction-")),
        "{schedule:#?}"
    );
}
