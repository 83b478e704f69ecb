//! The strict reading that decides what a signature covers: header
//! fields, Content-Type parameters, the multipart split, the judgement of
//! a whole mail, and the reading of a signed entity.
#![no_main]

mod common;

use embargo::parse::entity::{self, ContentType, Entity};
use embargo::parse::signed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::only_escaping_panics_crash();
    if let Ok(e) = Entity::read(data) {
        if let Ok(ct) = e.content_type()
            && let Ok(Some(boundary)) = ct.param("boundary")
            && let Ok(m) = entity::split(e.body, boundary)
        {
            // Parts are the body's own bytes, in order, and none of them
            // holds a line the split would have taken as a delimiter.
            let dash = format!("--{boundary}");
            for part in &m.parts {
                assert!(
                    !part
                        .split(|&b| b == b'\n')
                        .skip(1)
                        .any(|line| line.starts_with(dash.as_bytes())),
                    "a delimiter line inside a part"
                );
            }
        }
        let _ = e.transfer_encoding();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ContentType::parse(text);
        let _ = signed::inline(text);
    }
    if let Some(msg) = mail_parser::MessageParser::default().parse(data) {
        let _ = signed::layout(data, &msg);
    }
    let _ = embargo::parse::read_signed(data);
});
