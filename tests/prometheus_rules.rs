//! The alert rules the README offers (deploy/prometheus/) are rules
//! Prometheus loads, and they fire, and stay quiet, as their unit tests say:
//! judged by promtool, which tests/servers/install.sh installs.

use std::process::Command;

#[test]
fn the_alert_rules_load_and_fire_as_their_tests_say() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus");
    for args in [
        ["check", "rules", "embargo-alerts.yml"],
        ["test", "rules", "embargo-alerts.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(dir)
            .output()
            .expect(
                "promtool is missing: run tests/servers/install.sh (Debian's prometheus package)",
            );
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
