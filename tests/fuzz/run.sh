#!/usr/bin/env bash
# Runs every built libFuzzer target for SECONDS each on a scratch copy of its seed corpus (the committed corpus is
# never modified). Exits 1 if any target crashed, leaked, timed out or ran out of memory; crash inputs are kept.
# Usage: tests/fuzz/run.sh SECONDS BUILD_DIR   (BUILD_DIR configured with CC=clang and -Dfuzz=true)
set -u
if [ $# -ne 2 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -eq 0 ]; then
    echo "usage: $0 SECONDS BUILD_DIR" >&2
    exit 2
fi
secs=$1
build=$2
here=$(cd "$(dirname "$0")" && pwd)
bins=$(find "$build/tests/fuzz" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x 2>/dev/null | sort)
if [ -z "$bins" ]; then
    echo "$0: no fuzz targets in $build/tests/fuzz (configure with CC=clang and -Dfuzz=true)" >&2
    exit 2
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
artifacts="$build/fuzz-artifacts/$(date +%Y%m%d-%H%M%S)" # one directory per run
mkdir -p "$artifacts"
failed=0
for bin in $bins; do
    t=$(basename "$bin")
    mkdir -p "$scratch/$t" "$artifacts/$t"
    [ -d "$here/corpus/$t" ] && cp "$here/corpus/$t"/* "$scratch/$t/" 2>/dev/null
    echo "== $t: ${secs}s"
    "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$t/" "$scratch/$t" >"$scratch/$t.log" 2>&1
    rc=$?
    grep -E '^(stat::number_of_executed_units|#[0-9]+ *DONE)' "$scratch/$t.log" | tail -2
    if [ $rc -ne 0 ]; then
        failed=1
        echo "!! $t failed (exit $rc); log tail:"
        tail -40 "$scratch/$t.log"
        for a in "$artifacts/$t"/*; do
            [ -f "$a" ] || continue
            echo "!! input $a:"
            od -An -tx1 -v "$a" | head -20
        done
    fi
done
[ $failed -eq 0 ] && echo "fuzz: all targets ran ${secs}s without a crash"
exit $failed
