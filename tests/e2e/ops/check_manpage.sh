#!/bin/sh
# tests/e2e/ops/check_manpage.sh: renders the generated proxyd.8 with man and groff, fails on any roff warning, a
# missing section or a version other than proxyd -v's; skipped (exit 77) when man or groff is not installed.
set -u
page=${1:?usage: check_manpage.sh PATH/proxyd.8 [PATH/proxyd]}
bin=${2:-}
# The version lives in meson alone: the page (generated from docs/proxyd.8.in) and -v must say the same.
if [ -n "$bin" ]; then
	want=$("$bin" -v | sed -n 's/^proxyd version //p')
	grep -q "\"proxyd $want\"" "$page" || { echo "man page version differs from proxyd -v ($want)"; exit 1; }
fi
command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1 || { echo "man/groff not installed"; exit 77; }
warnings=$(groff -man -ww -z "$page" 2>&1)
if [ -n "$warnings" ]; then
	echo "groff warnings:"; echo "$warnings"; exit 1
fi
out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" 2>&1) || { echo "man -l failed:"; echo "$out"; exit 1; }
for section in NAME SYNOPSIS DESCRIPTION OPTIONS SIGNALS CONFIGURATION FILES "EXIT STATUS" EXAMPLES; do
	printf '%s\n' "$out" | grep -qx "$section" || { echo "section missing: $section"; exit 1; }
done
for word in SIGHUP SIGUSR1 SIGQUIT SIGTERM pid_file access_log_format shutdown_timeout /metrics README.md; do
	printf '%s\n' "$out" | grep -q -- "$word" || { echo "not documented: $word"; exit 1; }
done
echo "docs/proxyd.8 renders cleanly"
