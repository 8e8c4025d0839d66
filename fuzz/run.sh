#!/usr/bin/env bash
# Fuzz every target for a while: fuzz/run.sh [SECONDS_PER_TARGET] (default 15).
#
# Builds all targets once (cargo-fuzz on the stable toolchain, RUSTC_BOOTSTRAP=1; installs
# cargo-fuzz if it is missing), replays the saved crash reproducers in fuzz/regressions/, then
# runs each target's libFuzzer binary for SECONDS_PER_TARGET seconds, FUZZ_JOBS at a time
# (default: the number of cores). Seeds come from fuzz/corpus/<target>/ (read only); new inputs
# go to fuzz/target/corpus/<target>/, crashes to fuzz/artifacts/<target>/. Prints each target's
# executions and final coverage; exits non-zero if any target crashed, ran out of memory or
# timed out, or a reproducer still fails. FUZZ_SKIP_REGRESSIONS=1 skips the replay.
set -uo pipefail

secs="${1:-15}"
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here" || exit 2
export RUSTC_BOOTSTRAP=1 # cargo-fuzz needs -Zsanitizer; there is no nightly toolchain
jobs="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
targets=(normalize overlay list_text list_file plan_bytes policy csv_score snapshot)
# Inputs past 256 bytes are all one case for normalize; the sample plan file is ~40 KB.
declare -A max_len=([normalize]=512 [plan_bytes]=48000)
libfuzzer_args=(-rss_limit_mb=2048 -timeout=10 -print_final_stats=1)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    t0=$SECONDS
    cargo install cargo-fuzz --locked || exit 2
    echo "== cargo-fuzz installed in $((SECONDS - t0)) s"
fi

triple="$(rustc -vV | sed -n 's/^host: //p')"
echo "== building ${#targets[@]} targets for $triple"
t0=$SECONDS
nice -n 10 cargo fuzz build --target "$triple" || exit 2
echo "== built in $((SECONDS - t0)) s"
bin_dir="$here/target/$triple/release"

failed=()
if [[ "${FUZZ_SKIP_REGRESSIONS:-0}" != 1 ]]; then
    for t in "${targets[@]}"; do
        shopt -s nullglob
        repro=("$here/regressions/$t"/*)
        shopt -u nullglob
        ((${#repro[@]})) || continue
        if "$bin_dir/$t" "${libfuzzer_args[@]}" "${repro[@]}" >"$here/target/regressions-$t.log" 2>&1; then
            echo "== $t: ${#repro[@]} reproducer(s) pass"
        else
            echo "== $t: a reproducer in regressions/$t/ still fails (target/regressions-$t.log):"
            grep -m1 -E "panicked at|ERROR: (AddressSanitizer|libFuzzer)" "$here/target/regressions-$t.log" | sed 's/^/   /'
            failed+=("$t (regression)")
        fi
    done
fi

fuzz_one() {
    local t="$1"
    mkdir -p "$here/target/corpus/$t" "$here/artifacts/$t"
    "$bin_dir/$t" "$here/target/corpus/$t" "$here/corpus/$t" \
        "${libfuzzer_args[@]}" -max_len="${max_len[$t]:-4096}" -max_total_time="$secs" \
        -artifact_prefix="$here/artifacts/$t/" >"$here/target/fuzz-$t.log" 2>&1
    echo $? >"$here/target/fuzz-$t.rc"
}

echo "== fuzzing each target for $secs s, $jobs at a time"
running=0
for t in "${targets[@]}"; do
    if ((running >= jobs)); then
        wait -n
        running=$((running - 1))
    fi
    fuzz_one "$t" &
    running=$((running + 1))
done
wait

printf '%-11s %12s %10s %8s %7s  %s\n' target executions exec/s cov ft result
for t in "${targets[@]}"; do
    rc="$(cat "$here/target/fuzz-$t.rc" 2>/dev/null || echo 99)"
    log="$here/target/fuzz-$t.log"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
    ft="$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
    if ((rc == 0)); then
        result=ok
    else
        result="FAILED (exit $rc; target/fuzz-$t.log)"
        failed+=("$t")
    fi
    printf '%-11s %12s %10s %8s %7s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result"
    if ((rc != 0)); then
        grep -m1 -E "panicked at|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY" "$log" | sed 's/^/   /'
        grep -m1 -E "^artifact_prefix|Test unit written to" "$log" | sed 's/^/   /'
    fi
done

if ((${#failed[@]})); then
    echo "== failed: ${failed[*]}"
    exit 1
fi
echo "== no crashes"
