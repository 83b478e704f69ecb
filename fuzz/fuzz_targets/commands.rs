//! Command lines: the parser of what a signed mail asks for.
#![no_main]

mod common;

use embargo::core::command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::only_escaping_panics_crash();
    let text = String::from_utf8_lossy(data);
    let (lines, errors) = command::parse(&text, "EMB");
    let written = command::command_lines(&text);
    // Each written command line is read once: as a command or as an error.
    assert_eq!(lines.len() + errors.len(), written.len());
});
