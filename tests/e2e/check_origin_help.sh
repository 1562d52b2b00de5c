#!/bin/sh
# tests/e2e/check_origin_help.sh: `origin -h` lists every endpoint routes.c answers, so the help cannot drift from
# the code. Usage: check_origin_help.sh PATH/origin PATH/routes.c
set -u
origin=${1:?usage: check_origin_help.sh ORIGIN ROUTES_C}
routes=${2:?usage: check_origin_help.sh ORIGIN ROUTES_C}
help=$("$origin" -h) || { echo "origin -h failed"; exit 1; }
missing=0
for path in $(grep -oE '(slice_is|has_prefix)\(path, "/[^"]*"' "$routes" | sed 's/.*"\(.*\)"/\1/'); do
	printf '%s\n' "$help" | grep -qF "  $path" || { echo "origin -h does not list $path"; missing=1; }
done
[ "$missing" -eq 0 ] && echo "origin -h lists every endpoint"
exit "$missing"
