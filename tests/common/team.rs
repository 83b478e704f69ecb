//! A site whose SRC members sign with real GnuPG keys, for tests of signed commands.
#![allow(dead_code)]

use super::gpg::{Gpg, headers};
use super::*;

pub struct Team {
    pub site: Site,
    pub gpg: Gpg,
    pub alice: String,
    pub bob: String,
    pub mallory: String,
}

/// Alice (Ed25519) and Bob (RSA-3072) are the SRC; Alice is always on call.
pub fn team() -> Team {
    team_with("")
}

/// As [`team`], with `extra` appended to the config.
pub fn team_with(extra: &str) -> Team {
    team_of(Gpg::new(), extra)
}

/// As [`team_with`], for a simulated clock: the keys are made on
/// 2020-01-01, before any time a test sets, and GnuPG's clock is left there
/// for the test to move with [`Gpg::set_time`].
pub fn team_for_clock(extra: &str) -> Team {
    let gpg = Gpg::new();
    gpg.set_time(Some("2020-01-01T00:00:00Z".parse().unwrap()));
    team_of(gpg, extra)
}

fn team_of(gpg: Gpg, extra: &str) -> Team {
    let alice = gpg.gen_key("Alice <alice@example.org>", "ed25519");
    let bob = gpg.gen_key("Bob <bob@example.net>", "rsa3072");
    let mallory = gpg.gen_key("Mallory <mallory@evil.example>", "ed25519");
    let config = BASE_CONFIG
        .replace("6A2F0B2E9C417D358E901B4C2D6E8F01A3B5C7D9", &alice)
        .replace("1C3E5A7B9D0F2468ACE013579BDF02468ACE1357", &bob)
        .replace(
            "[roster.oncall]\nrotation = [\"alice@example.org\", \"bob@example.net\"]",
            "[roster]\nkeyring = \"keys\"\n\n[roster.oncall]\nrotation = [\"alice@example.org\"]",
        );
    let site = Site::with_config(&format!("{config}\n{extra}"));
    std::fs::create_dir(site.path("keys")).unwrap();
    std::fs::write(site.path("keys/alice.asc"), gpg.export(&alice)).unwrap();
    std::fs::write(site.path("keys/bob.asc"), gpg.export(&bob)).unwrap();
    Team {
        site,
        gpg,
        alice,
        bob,
        mallory,
    }
}

/// Delivers a report and files it; its incident id.
pub fn report(site: &Site, id: &str, subject: &str) -> String {
    site.deliver(&mail("Reporter <r@example.net>", subject, id, ""));
    let said = site.ok(&["run", "--once"]);
    let incidents = site.json(&["incidents"]);
    let id = incidents
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == subject)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The pass says what it did to whoever ran it.
    assert!(
        said.starts_with("1 mail(s) read: 1 filed (new: ") && said.contains(&id),
        "{said}"
    );
    id
}

/// A reply in a report's thread.
pub fn reply(from: &str, incident: &str, report_id: &str, n: &str) -> String {
    headers(
        from,
        &format!("Re: [{incident}] report"),
        &format!("{n}@mail.example"),
        &format!("In-Reply-To: <{report_id}>\r\n"),
    )
}

/// The date of the first disclosure slot `days` from now or later.
pub fn in_days(days: i64) -> String {
    let after = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days);
    embargo::core::slot::next_slot(after, &embargo::core::slot::SlotRules::default())
        .strftime("%Y-%m-%d")
        .to_string()
}
