#!/usr/bin/env bash
# Installs the mail servers the integration tests start: Dovecot (IMAP and
# LMTP), Postfix (SMTP with STARTTLS and SMTPS) and OpenSSL for the test CA;
# and promtool (Debian's prometheus package), which checks the alert rules
# in deploy/prometheus (tests/prometheus_rules.rs). None of their daemons
# is started or enabled. Safe to run concurrently: one install at a time,
# and none when all is there.
set -euo pipefail

have_all() {
    command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/lmtp ] &&
        command -v postfix >/dev/null && command -v openssl >/dev/null &&
        command -v flock >/dev/null && command -v promtool >/dev/null
}

have_all && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "the mail servers for the tests are missing and installing them needs root:" >&2
    echo "  apt-get install -y dovecot-imapd dovecot-lmtpd postfix openssl prometheus" >&2
    exit 1
fi

exec 9>/var/lock/embargo-test-servers-install.lock
flock 9
have_all && exit 0

export DEBIAN_FRONTEND=noninteractive
# No system-wide Postfix configuration and no daemons started by the
# packages: the tests start their own, on loopback high ports.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
policy_added=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_added=1
fi
trap '[ -n "$policy_added" ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
had_prometheus=$(command -v prometheus || true)
apt-get install -y -qq --no-install-recommends dovecot-imapd dovecot-lmtpd postfix openssl util-linux prometheus >/dev/null
# The package enables its server for the next boot; only promtool is wanted.
if [ -z "$had_prometheus" ]; then
    systemctl disable prometheus >/dev/null 2>&1 ||
        rm -f /etc/systemd/system/multi-user.target.wants/prometheus.service
fi
have_all || { echo "the mail servers are still missing after apt-get install" >&2; exit 1; }
