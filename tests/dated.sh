#!/usr/bin/env bash
# Runs the test suite with the system clock set to another date, to find
# tests that only pass on some days (DESIGN.md, invariant 10):
#
#   tests/dated.sh "2027-12-31 23:59:30"          every test binary
#   tests/dated.sh "2027-03-14 06:59:30" pipeline  only tests/pipeline.rs
#
# The date is UTC. Each test binary starts with its clock at that instant
# and it runs on from there: every process the tests start (the embargo
# binary, gpg, Dovecot, Postfix) shares the same offset from the real clock,
# so they agree with each other. Monotonic clocks stay real
# (FAKETIME_DONT_FAKE_MONOTONIC), so tokio's timers and the tests' timeouts
# keep their real length. The binaries are built first, with the real clock:
# cargo must never write files dated in the future.
set -euo pipefail
cd "$(dirname "$0")/.."

at=${1:?usage: tests/dated.sh "YYYY-MM-DD HH:MM:SS" [TEST-TARGET ...]}
shift
target=$(date -u -d "$at" +%s) || {
    echo "cannot read the date \"$at\": write it as YYYY-MM-DD HH:MM:SS (UTC)" >&2
    exit 2
}
# libfaketime itself, preloaded: the `faketime` wrapper would also keep a
# semaphore per run in /dev/shm, and refuses to start when a stale one
# with its pid is left there.
lib=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime\.so\.1$' | head -1)
[ -n "$lib" ] && [ -f "$lib" ] || {
    echo "libfaketime is missing: apt-get install -y faketime" >&2
    exit 1
}

select=()
for t in "$@"; do select+=(--test "$t"); done
if [ ${#select[@]} = 0 ]; then select=(--lib --tests); fi

# Test harnesses live under deps/; the embargo binary they run does not.
binaries=$(cargo test --no-run --message-format=json-render-diagnostics "${select[@]}" |
    grep -o '"executable":"[^"]*/deps/[^"]*"' | sed 's/^"executable":"//; s/"$//')
[ -n "$binaries" ] || { echo "no test binaries were built" >&2; exit 1; }

# libfaketime leaves a shared-memory file and a semaphore per process it
# ran in (/dev/shm/faketime_shm_PID, /dev/shm/sem.faketime_sem_PID): some
# thousands per run, never removed. Those this run made go with it.
marker=$(mktemp)
trap 'find /dev/shm -maxdepth 1 \( -name "faketime_shm_*" -o -name "sem.faketime_sem_*" \) -user "$(id -u)" -newer "$marker" -delete 2>/dev/null || true; rm -f "$marker"' EXIT

failed=0
for bin in $binaries; do
    offset=$((target - $(date -u +%s)))
    printf '\n-- %s at %s (faketime %+ds)\n' "$(basename "$bin")" "$(date -u -d "@$target" '+%a %Y-%m-%d %H:%M:%S UTC')" "$offset"
    if ! LD_PRELOAD="$lib" FAKETIME="$(printf '%+d' "$offset")s" FAKETIME_DONT_FAKE_MONOTONIC=1 "$bin"; then
        failed=1
    fi
done
exit $failed
