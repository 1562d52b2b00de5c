#!/usr/bin/env bash
# Installs what is missing, builds everything with AddressSanitizer and UndefinedBehaviorSanitizer, runs every
# unit and end-to-end test, then a short fuzzing smoke run of each libFuzzer target (when clang is present).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/deps.sh
px_ensure_packages "${PX_BUILD_PACKAGES[@]}" curl openssl python3 clang libclang-rt-14-dev clang-format
# The fleet tests (tests/e2e/fleet): HAProxy in front of two proxyd, wrk for the load, nginx as an upstream that reads
# the PROXY protocol (nginx-light, as bench/run).
px_ensure_packages haproxy wrk nginx-light
# auth_guard's end-to-end tests (tests/e2e/security/test_auth_guard.c): a real NTLMv2 client besides curl --ntlm.
px_ensure_packages python3-requests python3-requests-ntlm
# The Debian package's build and checks (tests/pkg/check_deb.sh); PX_SKIP_DEB=1 skips both.
[ "${PX_SKIP_DEB:-0}" = 1 ] || px_ensure_packages dpkg-dev debhelper fakeroot lintian
px_ensure_mbedtls

build=build-test
if [ -d "$build" ]; then
    meson setup --reconfigure "$build" -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
else
    meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C "$build"

# The release build that ./run.sh uses must compile too (-O3 warns about things -O2 does not).
[ -d build ] || meson setup build --buildtype=release -Db_lto=true -Dtests=disabled >/dev/null
ninja -C build

# Every C file stays formatted by the committed .clang-format (Debian 12's clang-format 14).
format_status=0
unformatted=$(git ls-files '*.c' '*.h' 2>/dev/null | xargs -r clang-format --dry-run --Werror 2>&1 | grep -o '^[^:]*\.[ch]' | sort -u || true)
if [ -n "$unformatted" ]; then
    echo "format check: these files differ from .clang-format (run clang-format -i on them):"
    echo "$unformatted"
    format_status=1
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
set +e
meson test -C "$build" --print-errorlogs --num-processes "${PX_TEST_PROCESSES:-2}" 2>&1 | tee "$build/meson-test.out"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e

# The Debian package (issue 19.12), built from a copy of the tree: lintian, file list, maintainer scripts, -t.
deb_status=0
if [ "${PX_SKIP_DEB:-0}" != 1 ]; then
    bash tests/pkg/check_deb.sh . || deb_status=$?
fi

fuzz_status=0
if [ "${PX_SKIP_FUZZ:-0}" != 1 ] && command -v clang >/dev/null; then
    if [ -d build-fuzz ]; then
        CC=clang meson setup --reconfigure build-fuzz -Dfuzz=true -Dtests=disabled >/dev/null
    else
        CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=disabled >/dev/null
    fi
    ninja -C build-fuzz
    bash tests/fuzz/run.sh "${PX_FUZZ_SECONDS:-30}" build-fuzz || fuzz_status=1
fi

# Check's own summaries, then one closing line over every test program.
log="$build/meson-logs/testlog.txt"
grep -hoE '[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" |
    awk -F'[:,] *' '{c+=$3; f+=$5; e+=$7} END {printf "Check: %d checks, %d failures, %d errors\n", c, f, e}'
count() { awk -v k="$1" '$1 == k {n += $2} END {print n + 0}' "$build/meson-test.out"; }
passed=$(count Ok:)
failed=$(( $(count Fail:) + $(count Timeout:) + $(count "Unexpected") ))
[ "$format_status" -ne 0 ] && { failed=$((failed + 1)); echo "format check: FAILED"; }
[ "$format_status" -eq 0 ] && { passed=$((passed + 1)); echo "format check: ok"; }
case "$deb_status" in
    0) [ "${PX_SKIP_DEB:-0}" = 1 ] || { passed=$((passed + 1)); echo "debian package: ok"; } ;;
    77) echo "debian package: skipped" ; deb_status=0 ;;
    *) failed=$((failed + 1)); echo "debian package: FAILED" ;;
esac
[ "$fuzz_status" -ne 0 ] && { failed=$((failed + 1)); echo "fuzz smoke run: FAILED"; }
[ "$fuzz_status" -eq 0 ] && [ "${PX_SKIP_FUZZ:-0}" != 1 ] && { passed=$((passed + 1)); echo "fuzz smoke run: ok"; }
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$fuzz_status" -eq 0 ] && [ "$format_status" -eq 0 ] && [ "$deb_status" -eq 0 ]
