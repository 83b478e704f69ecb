#!/usr/bin/env bash
# Installs the mail servers the integration tests start: Dovecot (IMAP and
# LMTP), Postfix (SMTP with STARTTLS and SMTPS) and OpenSSL for the test CA.
# Safe to run concurrently: one install at a time, and none when all is there.
set -euo pipefail

have_all() {
    command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/lmtp ] &&
        command -v postfix >/dev/null && command -v openssl >/dev/null &&
        command -v flock >/dev/null
}

have_all && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "the mail servers for the tests are missing and installing them needs root:" >&2
    echo "  apt-get install -y dovecot-imapd dovecot-lmtpd postfix openssl" >&2
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
apt-get install -y -qq --no-install-recommends dovecot-imapd dovecot-lmtpd postfix openssl util-linux >/dev/null
have_all || { echo "the mail servers are still missing after apt-get install" >&2; exit 1; }
