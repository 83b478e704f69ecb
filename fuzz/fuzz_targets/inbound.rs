//! Bytes to an inbound mail: MIME parsing, the strict signed-entity
//! judgement, signature checks and decryption, as the service runs them.
#![no_main]

mod common;

use std::sync::OnceLock;

use embargo::parse::{self, Keys};
use embargo::pgp::Pgp;
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static Pgp {
    static PGP: OnceLock<Pgp> = OnceLock::new();
    PGP.get_or_init(|| {
        let now = "2026-01-01T00:00:00Z".parse().unwrap();
        let list = embargo::pgp::generate("List <security@example.org>", now).unwrap();
        let member = embargo::pgp::generate("Alice <alice@example.org>", now).unwrap();
        Pgp::new(list, vec![member.strip_secret_key_material()], vec![])
    })
}

fuzz_target!(|data: &[u8]| {
    common::only_escaping_panics_crash();
    let keys = Keys {
        opener: keys(),
        now: "2026-12-01T10:00:00Z".parse().unwrap(),
    };
    if let Ok(mail) = parse::parse(data.to_vec(), 4 << 20, Some(keys)) {
        // What commands are read from is the signed text or the mail's.
        let _ = embargo::core::command::parse(mail.command_text(), "EMB");
    }
});
