//! The Debian package's files (packaging/, README "Install as a service
//! (Debian)"). The package itself is built, installed and purged by
//! packaging/check-deb.sh, which .ci/run calls.

/// What the package installs as /etc/embargo/embargo.toml is the commented
/// example, config/embargo.toml, with its paths under /var/lib/embargo:
/// each pair is (the example's text, the package's), each found once.
const PACKAGED: &[(&str, &str)] = &[
    (
        "# embargo configuration. Copy this file, edit it, then run\n\
         #   embargo --config FILE check-config\n\
         # Relative paths are relative to the directory of this file.\n",
        "# embargo configuration, as the Debian package installs it. Edit it, then run\n\
         #   embargo --config /etc/embargo/embargo.toml check-config\n\
         # and start the service: systemctl enable --now embargo.\n\
         # The service runs as the user embargo and writes only to /var/lib/embargo.\n",
    ),
    (
        "# variable (`*_env`) or a file (`*_file`) instead.\n",
        "# variable (`*_env`) or a file (`*_file`) instead. The unit reads the\n\
         # variables from /etc/embargo/env (mode 600; see embargo.service).\n",
    ),
    (
        "#   embargo keys generate --uid \"Example Project Security <security@example.org>\" --out var/list-key.asc\n\
         # The file must be readable by the service only (chmod 600).\n",
        "#   runuser -u embargo -- embargo keys generate --uid \"Example Project Security <security@example.org>\" --out /var/lib/embargo/list-key.asc\n\
         # The file must be readable by the service only (owner embargo, chmod 600).\n",
    ),
    (
        "key_file = \"../var/list-key.asc\"",
        "key_file = \"/var/lib/embargo/list-key.asc\"",
    ),
    (
        "# The Maildir your mail delivery agent writes the security inbox to.\n\
         path = \"../var/maildir\"",
        "# The Maildir your mail delivery agent writes the security inbox to\n\
         # (Postfix's home_mailbox = Maildir/ for the user embargo writes here);\n\
         # it must have new/, cur/ and tmp/, writable by the user embargo.\n\
         path = \"/var/lib/embargo/Maildir\"",
    ),
    (
        "dir = \"../var/outbox\"",
        "dir = \"/var/lib/embargo/outbox\"",
    ),
    (
        "path = \"../var/embargo.db\"",
        "path = \"/var/lib/embargo/embargo.db\"",
    ),
];

fn packaged(example: &str) -> String {
    let mut text = example.to_owned();
    for (from, to) in PACKAGED {
        assert_eq!(
            text.matches(from).count(),
            1,
            "config/embargo.toml changed: {from:?} is no longer there once; update PACKAGED in tests/packaging.rs"
        );
        text = text.replace(from, to);
    }
    text
}

#[test]
fn the_packaged_config_is_the_example_with_paths_under_var_lib_embargo() {
    let root = env!("CARGO_MANIFEST_DIR");
    let example = std::fs::read_to_string(format!("{root}/config/embargo.toml")).unwrap();
    let expected = packaged(&example);
    let path = format!("{root}/packaging/embargo.toml");
    if std::env::var_os("EMBARGO_WRITE_PACKAGED_CONFIG").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let shipped = std::fs::read_to_string(&path).unwrap();
    assert!(
        shipped == expected,
        "packaging/embargo.toml is not config/embargo.toml with the package's paths: \
         run `EMBARGO_WRITE_PACKAGED_CONFIG=1 cargo test --test packaging` and commit it"
    );
    // No path is left relative: relative to /etc/embargo, they would name
    // directories the service cannot write (ProtectSystem=strict).
    for line in shipped.lines().filter(|l| !l.starts_with('#')) {
        if let Some((key, value)) = line.split_once(" = ")
            && ["path", "dir", "key_file", "keyring"].contains(&key.trim())
        {
            assert!(
                value.starts_with("\"/var/lib/embargo/"),
                "{line}: not under /var/lib/embargo"
            );
        }
    }
}

#[test]
fn the_unit_has_the_hardening_the_readme_promises() {
    let root = env!("CARGO_MANIFEST_DIR");
    let unit = std::fs::read_to_string(format!("{root}/packaging/debian/embargo.service")).unwrap();
    let lines: Vec<&str> = unit.lines().collect();
    for setting in [
        "Type=simple",
        "User=embargo",
        "StateDirectory=embargo",
        "ConfigurationDirectory=embargo",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "EnvironmentFile=-/etc/embargo/env",
        "ExecStart=/usr/bin/embargo --config /etc/embargo/embargo.toml serve",
    ] {
        assert!(lines.contains(&setting), "embargo.service lacks {setting}");
    }
}
