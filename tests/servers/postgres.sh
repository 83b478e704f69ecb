#!/usr/bin/env bash
# Makes sure a PostgreSQL server runs on which the tests may create (and
# drop) databases, and prints its URL on standard output. In order:
# EMBARGO_TEST_POSTGRES if set; a server on 127.0.0.1:5432 that trusts the
# user postgres; else a private cluster under /var/tmp/embargo-postgres on
# 127.0.0.1:55432, created and started here (installing PostgreSQL first
# when it is missing). Nothing under /etc is changed.
set -euo pipefail

answers() { psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1; }

if [ -n "${EMBARGO_TEST_POSTGRES:-}" ]; then
    if answers "$EMBARGO_TEST_POSTGRES"; then
        echo "$EMBARGO_TEST_POSTGRES"
        exit 0
    fi
    echo "EMBARGO_TEST_POSTGRES=$EMBARGO_TEST_POSTGRES does not answer; unset it to let this script start a server" >&2
    exit 1
fi

have_server() { command -v psql >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }

if ! have_server; then
    if [ "$(id -u)" != 0 ]; then
        echo "PostgreSQL is missing and installing it needs root: apt-get install -y postgresql" >&2
        exit 1
    fi
    exec 9>/var/lock/embargo-test-postgres-install.lock
    flock 9
    if ! have_server; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    fi
    exec 9>&-
fi

shared=postgres://postgres@127.0.0.1:5432/postgres
if answers "$shared"; then
    echo "$shared"
    exit 0
fi

dir=/var/tmp/embargo-postgres
port=55432
private=postgres://postgres@127.0.0.1:$port/postgres
if answers "$private"; then
    echo "$private"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "no PostgreSQL answers at $shared, and starting a private one needs root" >&2
    exit 1
fi
bin=$(dirname "$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -1)")
mkdir -p "$dir"
chown postgres:postgres "$dir"
# PostgreSQL refuses to run as root: its own user runs it.
if [ ! -f "$dir/data/PG_VERSION" ]; then
    runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
fi
# Test data only: no fsync, so the tests do not wait on the disk.
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >&2 ||
    { tail -20 "$dir/server.log" >&2; exit 1; }
if ! answers "$private"; then
    echo "the private PostgreSQL does not answer at $private; see $dir/server.log" >&2
    exit 1
fi
echo "$private"
