#!/usr/bin/env bash
# Starts or stops one of the servers start.sh set up in DIR:
#   tests/servers/control.sh DIR start-imap|stop-imap|start-smtp|stop-smtp|flush-queue
# Starting waits until the server's ports accept connections; flush-queue
# asks Postfix to deliver what it holds and waits until its queue is empty.
set -euo pipefail

D=${1:?usage: control.sh DIR start-imap|stop-imap|start-smtp|stop-smtp}
# shellcheck disable=SC1091
. <(tr ' ' '\n' <"$D/ports")

wait_port() {
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "nothing listens on 127.0.0.1:$1 after 10 s; see the logs under $D" >&2
    return 1
}

# Waits until PORT accepts connections and proves the one listener on it is
# the daemon whose master's pid is in PIDFILE: a port another test's server
# took (a race between picking a free port and binding it) must fail this
# start, not route this test's mail to someone else's server.
wait_own_port() {
    local port=$1 pidfile=$2 hex inodes pid fd owned=
    wait_port "$port" || return 1
    hex=$(printf '%04X' "$port")
    # The daemon may bind before it writes its pidfile: ask again for up
    # to 10 s before calling the listener someone else's.
    for _ in $(seq 1 200); do
        inodes=$(awk -v a="0100007F:$hex" '$2 == a && $4 == "0A" { print $10 }' /proc/net/tcp)
        pid=$(tr -d ' ' <"$pidfile" 2>/dev/null || true)
        # One descriptor at a time: the daemon opens and closes others
        # meanwhile, which a find over /proc/PID/fd reports as an error.
        if [ -n "$pid" ] && [ "$(printf '%s\n' "$inodes" | grep -c .)" = 1 ]; then
            for fd in "/proc/$pid/fd/"*; do
                if [ "$(readlink "$fd" 2>/dev/null)" = "socket:[$inodes]" ]; then
                    owned=1
                    break
                fi
            done
        fi
        [ -n "$owned" ] && return 0
        sleep 0.05
    done
    echo "127.0.0.1:$port answers, but not from the server whose pid is in $pidfile (${pid:-none}); listeners: ${inodes:-none}; see the logs under $D" >&2
    return 1
}

wait_gone() {
    for _ in $(seq 1 200); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
}

case "${2:?}" in
start-imap)
    # No inherited descriptors: a caller waiting for our output must not
    # wait for the daemon too.
    dovecot -c "$D/dovecot/dovecot.conf" </dev/null >>"$D/dovecot/stdout" 2>&1 || {
        cat "$D/dovecot/dovecot.log" >&2 2>/dev/null
        exit 1
    }
    wait_own_port "$IMAP" "$D/dovecot/run/master.pid"
    wait_own_port "$IMAPS" "$D/dovecot/run/master.pid"
    ;;
stop-imap)
    pidfile="$D/dovecot/run/master.pid"
    if [ -f "$pidfile" ]; then
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        wait_gone "$pid"
        # Its children may outlive the master by a moment; the ports must be free.
        pkill -f "embargo-test-$IMAP/" 2>/dev/null || true
    fi
    ;;
start-smtp)
    # postfix-script reports to the terminal only; keep its words for failures.
    if ! postfix -c "$D/postfix/etc" start </dev/null >>"$D/postfix/stdout" 2>&1; then
        cat "$D/postfix/stdout" >&2
        tail -20 "$D/postfix/postfix.log" >&2 2>/dev/null
        exit 1
    fi
    wait_own_port "$MX" "$D/postfix/spool/pid/master.pid"
    wait_own_port "$SMTP" "$D/postfix/spool/pid/master.pid"
    wait_own_port "$SMTPS" "$D/postfix/spool/pid/master.pid"
    ;;
stop-smtp)
    if [ -f "$D/postfix/spool/pid/master.pid" ]; then
        pid=$(tr -d ' ' <"$D/postfix/spool/pid/master.pid")
        postfix -c "$D/postfix/etc" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        wait_gone "$pid"
    fi
    ;;
flush-queue)
    for i in $(seq 1 240); do
        if postqueue -c "$D/postfix/etc" -p 2>/dev/null | grep -q "Mail queue is empty"; then
            exit 0
        fi
        # Again every 5 s: a delivery in flight at the first flush is retried too.
        if [ $((i % 10)) = 1 ]; then postqueue -c "$D/postfix/etc" -f || true; fi
        sleep 0.5
    done
    echo "Postfix's queue is not empty after 120 s:" >&2
    postqueue -c "$D/postfix/etc" -p >&2 || true
    tail -30 "$D/postfix/postfix.log" >&2 2>/dev/null
    exit 1
    ;;
*)
    echo "unknown action ${2}" >&2
    exit 2
    ;;
esac
