//! What every target shares.

/// libfuzzer-sys aborts on any panic, even one embargo catches on purpose
/// (a parser bug must not stop the service: `guard::catch_panic`). Only a
/// panic that escapes the code under test is a crash: the `fuzz_target!`
/// wrapper still aborts on those.
pub fn only_escaping_panics_crash() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| eprintln!("panic (a crash only if it escapes): {info}")))
    });
}
