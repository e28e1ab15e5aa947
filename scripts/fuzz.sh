#!/usr/bin/env bash
# Long fuzz run (DESIGN.md, "Fuzzing"): builds the libFuzzer driver and runs every target
# (or the ones named) for RUNS executions each, one after another, starting from a copy
# of Fixtures/fuzz/<target>/ (the repository's corpus is not written to). Prints
# executions, exec/s, time and whether it crashed (libFuzzer gets Fuzz/Dictionaries/<target>.dict,
# the protocol's words); a crashing input is copied to
# Fixtures/fuzz/<target>/crash-<sha1> (turn it into a regression test: README, "Fuzzing").
#
#   scripts/fuzz.sh [target…]           RUNS=1000000 by default
#   RUNS=50000 SEED=7 scripts/fuzz.sh wire telnet
#   CONFIGURATION=release scripts/fuzz.sh   (faster executions, slower build)
#
# On a shared machine, set FUZZ_LOCK to a lock file: the build then runs under flock(1).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-1000000}
seed=${SEED:-1}
configuration=${CONFIGURATION:-debug}
scratch=.build-fuzz
mkdir -p "$scratch"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(hayes callerid dialstring phonebook wire telnet); fi

build=(swift build --product swift-ras-fuzz -c "$configuration" --sanitize fuzzer --sanitize address
       -Xswiftc -DFUZZING --scratch-path "$scratch")
echo "building: ${build[*]}"
start=$(date +%s)
# (ld.gold warns about every ASan register helper; those lines are left out.)
buildStatus=0
if [ -n "${FUZZ_LOCK:-}" ]; then
    flock "$FUZZ_LOCK" "${build[@]}" >"$scratch/fuzz-build.log" 2>&1 || buildStatus=$?
else
    "${build[@]}" >"$scratch/fuzz-build.log" 2>&1 || buildStatus=$?
fi
grep -v "Cannot export local symbol" "$scratch/fuzz-build.log" || true
[ "$buildStatus" -eq 0 ] || { echo "fuzzer build failed (exit $buildStatus)"; exit 2; }
echo "built in $(( $(date +%s) - start )) s"
fuzzer="$PWD/$scratch/$configuration/swift-ras-fuzz"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
printf '%-11s %12s %10s %8s  %s\n' target executions exec/s seconds result
for target in "${targets[@]}"; do
    mkdir -p "$work/$target/corpus" "$work/$target/artifacts"
    cp Fixtures/fuzz/"$target"/* "$work/$target/corpus/" 2>/dev/null || true
    log="$work/$target/log"
    start=$(date +%s.%N)
    status=0
    dictionary=()
    if [ -f "Fuzz/Dictionaries/$target.dict" ]; then dictionary=(-dict="$PWD/Fuzz/Dictionaries/$target.dict"); fi
    (cd "$work/$target" && SWIFT_RAS_FUZZ_TARGET="$target" SWIFT_BACKTRACE=enable=no nice -n 10 "$fuzzer" -seed="$seed" \
        -runs="$runs" "${dictionary[@]}" -print_final_stats=1 -artifact_prefix="$work/$target/artifacts/" corpus) \
        >"$log" 2>&1 || status=$?
    seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    executions=${executions:-0}
    rate=$(awk -v n="$executions" -v s="$seconds" 'BEGIN { printf "%d", (s > 0 ? n / s : 0) }')
    result=ok
    if [ "$status" -ne 0 ]; then
        failed=1
        result="CRASHED (exit $status)"
        for artifact in "$work/$target/artifacts"/*; do
            [ -e "$artifact" ] || continue
            name="crash-$(sha1sum "$artifact" | cut -c1-12)"
            cp "$artifact" "Fixtures/fuzz/$target/$name"
            result="$result, input saved as Fixtures/fuzz/$target/$name"
        done
        grep -E "swift-ras-fuzz $target:|ERROR: AddressSanitizer|Fatal error|SUMMARY" "$log" | head -5 || true
    fi
    printf '%-11s %12s %10s %8.1f  %s\n' "$target" "$executions" "$rate" "$seconds" "$result"
done
exit "$failed"
