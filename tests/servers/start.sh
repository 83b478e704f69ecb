#!/usr/bin/env bash
# Starts a private Dovecot (IMAP, IMAPS, LMTP) and Postfix (SMTP with
# STARTTLS, SMTPS) on 127.0.0.1, with everything under DIR: a test CA and a
# certificate for "localhost", the configs, the queue and the mailboxes.
# Nothing under /etc is read or written.
#
#   tests/servers/start.sh DIR IMAP_PORT IMAPS_PORT MX_PORT SMTP_PORT SMTPS_PORT
#
# Users (password "secret"): security, src, reporter, alice, bob, distro1,
# distro2, announce, all @embargo.test. Postfix takes mail on MX_PORT as an
# MX would (no login; it must not depend on Dovecot's auth being up), and
# submissions with STARTTLS on SMTP_PORT and implicit TLS on SMTPS_PORT,
# and delivers everything to Dovecot over LMTP.
# Stop with tests/servers/stop.sh DIR; restart one with start-imap / start-smtp.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
D=${1:?usage: start.sh DIR IMAP_PORT IMAPS_PORT MX_PORT SMTP_PORT SMTPS_PORT}
IMAP=${2:?} IMAPS=${3:?} MX=${4:?} SMTP=${5:?} SMTPS=${6:?}

"$here/install.sh"

mkdir -p "$D"
D=$(cd "$D" && pwd)
# Dovecot's mail user and Postfix's LMTP client must reach into DIR.
chmod 755 "$D"
mkdir -p "$D/tls" "$D/dovecot/run" "$D/dovecot/state" "$D/mail" \
    "$D/postfix/etc" "$D/postfix/spool" "$D/postfix/data"
chown mail:mail "$D/mail"
chown postfix "$D/postfix/data"

# --- a test CA and a server certificate for "localhost" only, so that
# connecting to 127.0.0.1 with verification on is a wrong-host-name case.
if [ ! -f "$D/tls/server.crt" ]; then
    (
        cd "$D/tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=embargo test CA" \
            -keyout ca.key -out ca.crt 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
            -keyout server.key -out server.csr 2>/dev/null
        printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -extfile ext.cnf -out server.crt 2>/dev/null
        chmod 644 server.key
    )
fi

# --- Dovecot
: >"$D/dovecot/users"
for u in security src reporter alice bob distro1 distro2 announce; do
    echo "$u@embargo.test:{PLAIN}secret::::::" >>"$D/dovecot/users"
done
# And dev, the Fix Team member of the relay tests.
echo "dev@embargo.test:{PLAIN}secret::::::" >>"$D/dovecot/users"
cat >"$D/dovecot/dovecot.conf" <<CONF
base_dir = $D/dovecot/run
state_dir = $D/dovecot/state
instance_name = embargo-test-$IMAP
log_path = $D/dovecot/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <$D/tls/server.crt
ssl_key = <$D/tls/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
# Without these a failed login slows the next good one by seconds.
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:~/Maildir
# Each outbox mail goes out with its own return path, security+bounce-<token>@:
# its bounces must reach the security mailbox (Dovecot's default, made plain).
recipient_delimiter = +
# Under tests/dated.sh the whole test runs on a shifted clock (libfaketime):
# the master must hand it to every process it starts, or a child's clock
# lags the master's by the shift and the master kills it as idle.
import_environment = TZ CORE_OUTOFMEM CORE_ERROR LISTEN_PID LISTEN_FDS LD_PRELOAD FAKETIME FAKETIME_DONT_FAKE_MONOTONIC
first_valid_uid = 8
first_valid_gid = 8
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/dovecot/users
}
userdb {
  driver = static
  args = uid=mail gid=mail home=$D/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS
    ssl = yes
  }
}
service lmtp {
  unix_listener $D/dovecot/lmtp {
    mode = 0666
  }
}
service auth {
  unix_listener $D/dovecot/auth-client {
    mode = 0666
  }
}
protocol imap {
  mail_max_userip_connections = 200
}
CONF

# --- Postfix
cat >"$D/postfix/etc/main.cf" <<CONF
compatibility_level = 3.6
config_directory = $D/postfix/etc
queue_directory = $D/postfix/spool
data_directory = $D/postfix/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.embargo.test
mydomain = embargo.test
mydestination =
local_recipient_maps =
local_transport = error:no local delivery here
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject
default_transport = lmtp:unix:$D/dovecot/lmtp
relay_transport = lmtp:unix:$D/dovecot/lmtp
smtpd_tls_cert_file = $D/tls/server.crt
smtpd_tls_key_file = $D/tls/server.key
smtpd_tls_security_level = may
smtpd_sasl_type = dovecot
smtpd_sasl_path = $D/dovecot/auth-client
smtpd_sasl_auth_enable = yes
# Mail queued while Dovecot is down goes out within seconds of its return.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
# A delivery cut off by Dovecot stopping gives up in seconds, not the default
# ten minutes during which Postfix skips the mail as "still being delivered".
lmtp_connect_timeout = 5s
lmtp_lhlo_timeout = 10s
lmtp_mail_timeout = 10s
lmtp_rcpt_timeout = 10s
lmtp_data_init_timeout = 10s
lmtp_data_xfer_timeout = 10s
lmtp_data_done_timeout = 10s
lmtp_rset_timeout = 10s
lmtp_quit_timeout = 10s
maillog_file_prefixes = $D
maillog_file = $D/postfix/postfix.log
smtpd_client_connection_rate_limit = 0
# A refused login is answered at once, not after the usual pause.
smtpd_error_sleep_time = 0s
biff = no
append_dot_mydomain = no
# The shifted clock of tests/dated.sh, for every Postfix process (see Dovecot's).
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME LD_PRELOAD FAKETIME FAKETIME_DONT_FAKE_MONOTONIC
CONF
cat >"$D/postfix/etc/master.cf" <<CONF
127.0.0.1:$MX inet n - n - - smtpd -o smtpd_sasl_auth_enable=no
127.0.0.1:$SMTP inet n - n - - smtpd
127.0.0.1:$SMTPS inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
lmtp      unix - - n - - lmtp
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
CONF

echo "IMAP=$IMAP IMAPS=$IMAPS MX=$MX SMTP=$SMTP SMTPS=$SMTPS" >"$D/ports"
"$here/control.sh" "$D" start-imap
"$here/control.sh" "$D" start-smtp
