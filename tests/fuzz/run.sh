#!/usr/bin/env bash
# tests/fuzz/run.sh - build the libFuzzer targets with clang and run each for
# SECONDS (default 60), two at a time.
#
#   bash tests/fuzz/run.sh [SECONDS]
#
# Targets: fuzz_read (qgraph reader), fuzz_config (.qcfg reader, and prepare
# with what it reads), fuzz_prepare (read + prepare for every backend), fuzz_qn
# (the .qn case reader of qprep replay, examples/cli/qn.c), fuzz_qstate (the
# quantizer state file reader, src/quant/state_text.c). Each
# is built with -fsanitize=fuzzer,address,undefined from the library sources
# directly, into $FUZZ_BUILD (default build-fuzz/ in the checkout), and
# started from a corpus seeded with the fixtures, the configurations, the
# bad-input corpus and tests/fuzz/regressions/TARGET/; inputs that find new
# coverage stay in $FUZZ_BUILD/corpus/TARGET for the next run. A crash is
# saved under $FUZZ_BUILD/artifacts/TARGET/: minimise it (TARGET
# -minimize_crash=1 FILE), fix the bug, and commit the input under
# tests/fuzz/regressions/TARGET/, which ctest replays (label fuzz-regress).
#
# Environment: FUZZ_JOBS (parallel runs, default 2), FUZZ_TARGETS (a subset),
# CC (default clang). Prints execs, execs/s and crashes per target; exits
# non-zero if any target crashed.
set -euo pipefail

seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_BUILD:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-2}
targets=${FUZZ_TARGETS:-"fuzz_read fuzz_config fuzz_prepare fuzz_qn fuzz_qstate"}
cc=${CC:-clang}
data=$root/tests/data

command -v "$cc" >/dev/null || { echo "run.sh: $cc not found" >&2; exit 1; }
mkdir -p "$out"

# ---- build ----
srcs=$(ls "$root"/src/*.c "$root"/src/quant/*.c)
for t in $targets; do
    echo "run.sh: building $t"
    extra=""
    [ "$t" = fuzz_qn ] && extra="$root/examples/cli/qn.c $root/examples/cli/qn_write.c"
    # shellcheck disable=SC2086 # the source lists are meant to split
    "$cc" -g -O1 -std=c11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -fno-omit-frame-pointer -I"$root/include" -I"$root/src" -I"$root/tests/support" \
        -I"$root/examples/cli" $srcs $extra "$here/fuzz_common.c" "$here/$t.c" \
        "$root/tests/support/fault_alloc.c" "$root/tests/support/textbuf.c" -lm -o "$out/$t"
done

# ---- seed corpora ----
seed() { # seed TARGET: copy the seeds into corpus/TARGET (kept between runs)
    local t=$1 c=$out/corpus/$1
    mkdir -p "$c"
    case $t in
    fuzz_read)
        cp "$data"/fixtures/*.qg "$c"/
        [ -d "$data/bad" ] && cp "$data"/bad/*.qg "$c"/ 2>/dev/null || true
        ;;
    fuzz_config)
        cp "$data"/configs/*.qcfg "$c"/
        [ -d "$data/bad" ] && cp "$data"/bad/*.qcfg "$c"/ 2>/dev/null || true
        ;;
    fuzz_qstate)
        cp "$data"/qstate/*.qstate "$c"/
        ;;
    fuzz_qn)
        # the five smallest recorded cases (the reader sees every one under ctest)
        # shellcheck disable=SC2012 # plain file names
        for f in $(ls -Sr "$data"/numerics/cases/*.qn | head -5); do cp "$f" "$c"/; done
        ;;
    fuzz_prepare)
        # the control byte picks the backend (and modes): every model for every backend
        local f b m
        for f in "$data"/fixtures/*.in.qg; do
            m=$(basename "$f" .in.qg)
            for b in $(seq 0 13); do
                { printf "\\$(printf %03o "$b")"; cat "$f"; } >"$c/$m.$b"
            done
            # fixed mode + verify-each, and the graph read without verification
            { printf '\060'; cat "$f"; } >"$c/$m.fix"
            { printf '\107'; cat "$f"; } >"$c/$m.noverify"
        done
        # graph + configuration
        for f in "$data"/configs/*.qcfg; do
            for m in resnet18 opsnet; do
                { printf '\000'; cat "$data/fixtures/$m.in.qg"; printf '@qcfg\n'; cat "$f"; } \
                    >"$c/$m.$(basename "$f" .qcfg).cfg"
            done
        done
        ;;
    esac
    if [ -d "$here/regressions/$t" ]; then
        cp "$here/regressions/$t"/* "$c"/ 2>/dev/null || true
    fi
}

# ---- run ----
run() { # run TARGET
    local t=$1
    rm -rf "$out/artifacts/$t" # earlier crashes are fixed or kept in regressions/
    mkdir -p "$out/artifacts/$t" "$out/logs"
    local dict=()
    [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
    set +e
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$out/$t" "$out/corpus/$t" "${dict[@]}" -max_total_time="$seconds" -timeout=25 \
        -rss_limit_mb=2560 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$t/" >"$out/logs/$t.log" 2>&1
    echo $? >"$out/logs/$t.rc"
    set -e
}

for t in $targets; do seed "$t"; done
running=0
for t in $targets; do
    echo "run.sh: running $t for ${seconds}s"
    run "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true

# ---- report ----
bad=0
printf '%-14s %12s %10s %8s %s\n' target execs exec/s crashes status
for t in $targets; do
    log=$out/logs/$t.log
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    crashes=$(find "$out/artifacts/$t" -type f | wc -l)
    rc=$(cat "$out/logs/$t.rc")
    status=ok
    if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
        status="FAILED (exit $rc; see $log)"
        bad=1
    fi
    printf '%-14s %12s %10s %8s %s\n' "$t" "$execs" "$rate" "$crashes" "$status"
done
exit $bad
