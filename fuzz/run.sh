#!/usr/bin/env bash
# Coverage-guided fuzzing on the stable toolchain:
#
#   fuzz/run.sh [SECONDS] [TARGET ...]     default: 60 s each of inbound signed commands
#
# No nightly and no cargo-fuzz needed: libfuzzer-sys brings libFuzzer (a C++
# compiler builds it) and rustc's stable `-C passes=sancov-module` with
# LLVM's sanitizer-coverage options instruments the code, as cargo-fuzz
# does. There is no AddressSanitizer (that needs -Zsanitizer); for Rust code
# a crash is a panic that escapes, which libFuzzer reports with the input.
# (`cargo fuzz run TARGET` also works here, with cargo-fuzz installed and
# RUSTC_BOOTSTRAP=1, which it needs for -Zsanitizer.)
#
# Seeds: the project's fixtures and, when it is beside the clone,
# ../shared/fixtures/mail. The growing corpus and any crash input are kept
# under the build cache, outside the clone. Exits non-zero on a crash.
set -euo pipefail
cd "$(dirname "$0")"

secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(inbound signed commands)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}-fuzz"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# With an explicit --target, RUSTFLAGS reach only what runs in the fuzzer,
# not build scripts and proc-macros (which have no libFuzzer to link).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --locked --bins --target "$host"

work="$CARGO_TARGET_DIR/fuzzing"
seeds=(../fixtures)
shared=../../shared/fixtures/mail
[ -d "${EMBARGO_FIXTURES:-}/mail" ] && shared="$EMBARGO_FIXTURES/mail"
[ -d "$shared" ] && seeds+=("$shared")

for t in "${targets[@]}"; do
    corpus="$work/corpus/$t"
    crashes="$work/crashes/$t"
    mkdir -p "$corpus" "$crashes"
    extra=()
    [ "$t" = commands ] && extra=(seeds/commands)
    echo "== fuzzing $t for ${secs}s (corpus $corpus; seeds ${seeds[*]} ${extra[*]})"
    "$CARGO_TARGET_DIR/$host/release/$t" "$corpus" "${seeds[@]}" "${extra[@]}" \
        -max_total_time="$secs" -max_len=262144 -timeout=20 -rss_limit_mb=2048 \
        -artifact_prefix="$crashes/" -print_final_stats=1 -close_fd_mask=3 ||
        { echo "fuzz target $t crashed; the input is in $crashes" >&2; exit 1; }
done
