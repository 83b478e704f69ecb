#!/usr/bin/env bash
# Builds the Debian package (cargo deb), installs it with dpkg -i on this
# machine, checks what it installed (files and modes, the conffile, the
# user, the unit with systemd-analyze verify, check-config on the installed
# config before and after the operator's two set-up steps, one pass of the
# service as its user), installs it again over itself, then purges it and
# checks that it is gone. Any failed check stops the script with an error
# naming it, and the package is purged then too.
#
# Needs root: .ci/run calls it, as root, after the tests. On a machine where
# an embargo package is already installed it refuses to run (it would purge
# it), unless CI=true or EMBARGO_CHECK_DEB_REPLACE=1.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

started=$SECONDS
step() { printf '\n== deb: %s (%ds)\n' "$*" "$((SECONDS - started))"; }
fail() {
  echo "check-deb: FAILED: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }

installed() { dpkg-query -W -f='${Status}' embargo 2>/dev/null | grep -q "install ok installed"; }
# Anything dpkg still knows of the package (installed, or config-files left).
known() { dpkg-query -W -f='${Status}' embargo 2>/dev/null | grep -qv "not-installed"; }

[ "$(id -u)" = 0 ] || fail "run as root: it installs and purges a package"

if known; then
  if [ "${CI:-}" = true ] || [ "${EMBARGO_CHECK_DEB_REPLACE:-}" = 1 ]; then
    step "purging the embargo package an earlier run left"
    dpkg --purge embargo
  else
    fail "an embargo package is installed here; this script would purge it (set EMBARGO_CHECK_DEB_REPLACE=1 to let it)"
  fi
fi

# On any failure from here on, nothing of the package is left behind.
cleanup() {
  local rc=$?
  if [ "$rc" != 0 ] && known; then
    echo "check-deb: purging the package after the failure" >&2
    dpkg --purge embargo >&2 || true
  fi
  exit "$rc"
}
trap cleanup EXIT

# dpkg-dev: cargo-deb's dpkg-shlibdeps (the Depends line); binutils: strip;
# systemd: systemd-analyze, and deb-systemd-helper for the unit's
# maintainer-script snippets (systemd need not be running); man-db: the
# unit's Documentation=man:embargo(1), which systemd-analyze verify opens.
missing=()
for pkg in dpkg-dev binutils systemd man-db; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "$(cargo deb --version 2>/dev/null || true)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  step "installing cargo-deb $CARGO_DEB_VERSION"
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION"
fi

target_dir="$(cargo metadata --format-version 1 --no-deps --locked |
  grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)"
version="$(cargo metadata --format-version 1 --no-deps --locked |
  grep -o '"name":"embargo","version":"[^"]*"' | cut -d'"' -f8)"
[ -n "$target_dir" ] && [ -n "$version" ] || fail "cannot read the target directory and version from cargo metadata"

step "cargo build --release"
cargo build --release --locked

# The man pages and completions come from the binary's own clap
# definition; Cargo.toml's [package.metadata.deb] assets take them from here.
step "man pages and completions into $target_dir/release/packaging"
gen="$target_dir/release/packaging"
rm -rf "$gen"
"$target_dir/release/embargo" man "$gen/man"
gzip -9n "$gen"/man/*.1
mkdir -p "$gen/completions"
"$target_dir/release/embargo" completions bash >"$gen/completions/embargo"
"$target_dir/release/embargo" completions zsh >"$gen/completions/_embargo"
"$target_dir/release/embargo" completions fish >"$gen/completions/embargo.fish"

# --dbgsym: the binary is packaged stripped (release builds keep line
# tables for backtraces: 186 MB instead of 33); its debug symbols go to
# embargo-dbgsym_<version>_amd64.ddeb beside it, for whoever needs them.
step "cargo deb --dbgsym"
rm -f "$target_dir"/debian/embargo_*.deb "$target_dir"/debian/embargo-dbgsym_*.ddeb
cargo deb --no-build --locked --dbgsym | tee "$gen/cargo-deb.out"
deb="$(grep "/embargo_${version}_amd64\.deb\$" "$gen/cargo-deb.out" || true)"
ddeb="$(grep "/embargo-dbgsym_${version}_amd64\.ddeb\$" "$gen/cargo-deb.out" || true)"
[ -n "$deb" ] && [ -f "$deb" ] || fail "cargo deb made no embargo_${version}_amd64.deb"
[ -n "$ddeb" ] && [ -f "$ddeb" ] || fail "cargo deb made no embargo-dbgsym_${version}_amd64.ddeb"
ok "$deb ($(du -h "$deb" | cut -f1)), debug symbols in $(basename "$ddeb") ($(du -h "$ddeb" | cut -f1))"
dpkg-deb --field "$deb" Package Version Architecture Depends Section

# The user is made by the package: one a previous run left (purge keeps it,
# see below) is removed first in CI, so that its creation is what is tested.
if getent passwd embargo >/dev/null; then
  if [ "${CI:-}" = true ] || [ "${EMBARGO_CHECK_DEB_REPLACE:-}" = 1 ]; then
    step "removing the embargo user an earlier run left, so that the package makes it"
    userdel embargo
    getent group embargo >/dev/null && groupdel embargo
  else
    echo "note: the user embargo exists already: the install is checked to keep it, not to make it"
  fi
fi

step "dpkg -i"
dpkg -i "$deb"
installed || fail "dpkg -i did not leave embargo installed"

step "the installed files"
# mode owner group: a file of the package, with what it must be.
check_file() {
  local path=$1 want=$2
  [ -f "$path" ] || fail "$path is not installed"
  local got
  got="$(stat -c '%a %U %G' "$path")"
  [ "$got" = "$want" ] || fail "$path is $got, not $want"
  ok "$path $got"
}
check_file /usr/bin/embargo "755 root root"
! readelf -S /usr/bin/embargo | grep -q '\.debug_info' || fail "/usr/bin/embargo is not stripped"
ok "/usr/bin/embargo is stripped ($(du -h /usr/bin/embargo | cut -f1))"
/usr/bin/embargo --version | grep -qx "embargo $version" || fail "/usr/bin/embargo --version: $(/usr/bin/embargo --version)"
ok "/usr/bin/embargo --version: embargo $version"
check_file /etc/embargo/embargo.toml "644 root root"
cmp /etc/embargo/embargo.toml packaging/embargo.toml || fail "/etc/embargo/embargo.toml is not packaging/embargo.toml"
conffiles="$(dpkg-query --control-show embargo conffiles)"
echo "conffiles: $conffiles"
grep -qx "/etc/embargo/embargo.toml" <<<"$conffiles" || fail "/etc/embargo/embargo.toml is not a conffile"
ok "/etc/embargo/embargo.toml is a conffile"
unit=""
for dir in /usr/lib/systemd/system /lib/systemd/system; do
  [ -f "$dir/embargo.service" ] && unit="$dir/embargo.service" && break
done
[ -n "$unit" ] || fail "embargo.service is not installed in /usr/lib/systemd/system or /lib/systemd/system"
check_file "$unit" "644 root root"
cmp "$unit" packaging/debian/embargo.service || fail "$unit is not packaging/debian/embargo.service"
check_file /usr/share/man/man1/embargo.1.gz "644 root root"
for page in serve check-config keys-generate completions; do
  check_file "/usr/share/man/man1/embargo-$page.1.gz" "644 root root"
done
zcat /usr/share/man/man1/embargo.1.gz | grep -q '^\.TH embargo 1' || fail "embargo.1.gz is not a man page"
zcat /usr/share/man/man1/embargo.1.gz | grep -q 'check\\-config' || fail "embargo.1.gz does not name check-config"
[ "$(man -w embargo)" = /usr/share/man/man1/embargo.1.gz ] || fail "man -w embargo: $(man -w embargo 2>&1)"
ok "embargo(1) is a man page naming check-config ($(find /usr/share/man/man1 -name 'embargo*.1.gz' | wc -l) pages)"
check_file /usr/share/bash-completion/completions/embargo "644 root root"
check_file /usr/share/zsh/vendor-completions/_embargo "644 root root"
check_file /usr/share/fish/vendor_completions.d/embargo.fish "644 root root"
bash -n /usr/share/bash-completion/completions/embargo || fail "the bash completion is not valid bash"
# The bash completion, loaded, completes `embargo check-c` to check-config.
words="$(bash -c 'source /usr/share/bash-completion/completions/embargo
  COMP_WORDS=(embargo check-c); COMP_CWORD=1; COMP_LINE="embargo check-c"; COMP_POINT=${#COMP_LINE}
  _embargo embargo check-c embargo; printf "%s\n" "${COMPREPLY[@]}"')"
[ "$words" = "check-config" ] || fail "bash completes 'embargo check-c' to '$words', not check-config"
ok "bash completes 'embargo check-c' to check-config"
for f in /usr/share/zsh/vendor-completions/_embargo /usr/share/fish/vendor_completions.d/embargo.fish; do
  grep -q "check-config" "$f" || fail "$f does not name check-config"
done
ok "the zsh and fish completions name check-config"

step "the user embargo"
entry="$(getent passwd embargo)" || fail "the package made no user embargo"
echo "$entry"
IFS=: read -r _ _ uid gid _ home shell <<<"$entry"
sys_uid_max="$(awk '$1 == "SYS_UID_MAX" { print $2 }' /etc/login.defs 2>/dev/null)"
[ "$uid" -lt "${sys_uid_max:-1000}" ] || fail "embargo has uid $uid: not a system user (SYS_UID_MAX ${sys_uid_max:-999})"
[ "$(getent group embargo | cut -d: -f3)" = "$gid" ] || fail "embargo's primary group is not the group embargo"
[ "$shell" = /usr/sbin/nologin ] || fail "embargo's shell is $shell, not /usr/sbin/nologin"
[ "$home" = /var/lib/embargo ] || fail "embargo's home is $home, not /var/lib/embargo"
password="$(getent shadow embargo | cut -d: -f2)"
case "$password" in '!'* | '*'*) ;; *) fail "embargo can log in with a password" ;; esac
ok "embargo is system user $uid, group $gid, no login shell, no password"
[ "$(stat -c '%a %U %G' /var/lib/embargo)" = "750 embargo embargo" ] ||
  fail "/var/lib/embargo is $(stat -c '%a %U %G' /var/lib/embargo), not 750 embargo embargo"
ok "/var/lib/embargo 750 embargo embargo"

step "systemd-analyze verify $unit"
# Offline: systemd need not be PID 1 (CI runs in a container without it).
# It checks the unit's syntax, every setting's name and value, and that
# ExecStart's binary exists; anything it says about the unit is a failure.
if ! verify="$(systemd-analyze verify "$unit" 2>&1)"; then
  echo "$verify" >&2
  fail "systemd-analyze verify $unit"
fi
if grep -i "embargo" <<<"$verify"; then
  fail "systemd-analyze verify has something to say about the unit (above)"
fi
[ -z "$verify" ] || echo "(about other units of this machine) $verify"
ok "systemd-analyze verify: no complaint about embargo.service"
if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
  exposure="$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1 | tail -n 1)"
  echo "systemd-analyze security: $exposure"
fi

step "check-config on the config as installed"
# The package cannot make the list's key nor know its mailbox: a fresh
# install's check-config names exactly these two steps and fails.
set +e
fresh="$(/usr/bin/embargo --config /etc/embargo/embargo.toml check-config 2>&1)"
rc=$?
set -e
echo "$fresh"
[ "$rc" = 1 ] || fail "check-config on a fresh install exited $rc, not 1"
[ "$(grep -c '^error: ' <<<"$fresh")" = 2 ] || fail "check-config on a fresh install: not exactly two errors"
grep -q '^error: list.key_file: /var/lib/embargo/list-key.asc does not exist' <<<"$fresh" ||
  fail "check-config on a fresh install does not say the list key is missing"
grep -q '^error: source.path: /var/lib/embargo/Maildir is not a Maildir' <<<"$fresh" ||
  fail "check-config on a fresh install does not say the Maildir is missing"
grep -q '^/etc/embargo/embargo.toml: 2 error(s)' <<<"$fresh" || fail "check-config's summary is not 2 error(s)"
ok "a fresh install's check-config fails, naming the list key and the Maildir, nothing else"

step "the operator's two steps (README), then check-config passes"
runuser -u embargo -- /usr/bin/embargo keys generate \
  --uid "Example Project Security <security@example.org>" \
  --out /var/lib/embargo/list-key.asc >/dev/null
[ "$(stat -c '%a %U' /var/lib/embargo/list-key.asc)" = "600 embargo" ] || fail "the list key is not 600 embargo"
install -d -o embargo -g embargo -m 0700 /var/lib/embargo/Maildir \
  /var/lib/embargo/Maildir/new /var/lib/embargo/Maildir/cur /var/lib/embargo/Maildir/tmp
/usr/bin/embargo --config /etc/embargo/embargo.toml check-config | tee "$gen/check-config.out"
grep -q '^/etc/embargo/embargo.toml: OK' "$gen/check-config.out" || fail "check-config as root did not say OK"
runuser -u embargo -- /usr/bin/embargo --config /etc/embargo/embargo.toml check-config >/dev/null ||
  fail "check-config as the user embargo failed"
ok "check-config passes, as root and as the user embargo"

# One pass of what the unit runs, as its user, from /var/lib/embargo: it
# makes the database and takes the (empty) mailbox.
cd /var/lib/embargo
runuser -u embargo -- /usr/bin/embargo --config /etc/embargo/embargo.toml run --once ||
  fail "run --once as the user embargo failed"
cd - >/dev/null
[ -f /var/lib/embargo/embargo.db ] || fail "run --once made no database in /var/lib/embargo"
[ "$(stat -c %U /var/lib/embargo/embargo.db)" = embargo ] || fail "the database is not the user embargo's"
ok "run --once as the user embargo: database in /var/lib/embargo"

step "dpkg -i again, over itself: the user kept, a local edit of the conffile kept"
echo "# a local edit" >>/etc/embargo/embargo.toml
dpkg -i "$deb"
[ "$(getent passwd embargo)" = "$entry" ] || fail "reinstalling changed the user embargo: $(getent passwd embargo)"
tail -n 1 /etc/embargo/embargo.toml | grep -qx "# a local edit" || fail "reinstalling overwrote the edited conffile"
[ -f /var/lib/embargo/list-key.asc ] || fail "reinstalling lost the list key"
ok "reinstalled: user, conffile edit and state kept"

step "dpkg --purge embargo"
dpkg --purge embargo
! known || fail "dpkg still knows embargo after the purge: $(dpkg-query -W -f='${Status}' embargo)"
for path in /usr/bin/embargo /etc/embargo /var/lib/embargo "$unit" /usr/share/man/man1/embargo.1.gz \
  /usr/share/bash-completion/completions/embargo /usr/share/zsh/vendor-completions/_embargo \
  /usr/share/fish/vendor_completions.d/embargo.fish /usr/share/doc/embargo; do
  [ ! -e "$path" ] || fail "$path is still there after the purge"
done
! compgen -G '/usr/share/man/man1/embargo*' >/dev/null || fail "man pages are still there after the purge"
! compgen -G '/var/lib/dpkg/info/embargo.*' >/dev/null || fail "dpkg's info files are still there after the purge"
ok "purged: binary, /etc/embargo, /var/lib/embargo (key, database, Maildir), unit, man pages, completions"
# As Debian does for system users (adduser's and deluser's documentation):
# a purge keeps the user and group, so that files it may own elsewhere
# (backups, a mail spool) are never inherited by a later user given its id.
getent passwd embargo >/dev/null || fail "the purge removed the user embargo (it keeps system users)"
[ "$(getent passwd embargo | cut -d: -f7)" = /usr/sbin/nologin ] || fail "embargo got a login shell"
ok "the user embargo stays, still without a login shell (Debian's practice for system users)"

trap - EXIT
step "the Debian package: all checks passed"
