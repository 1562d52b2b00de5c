#!/bin/sh
# tests/e2e/ops/check_pid_path.sh: every shipped file names the pid file proxyd writes when pid_file is unset and
# -s reads (issue 19.1): the examples, the systemd unit (RuntimeDirectory, ReadWritePaths) and logrotate file as
# meson configured them, the man page and README agree with `proxyd -h`; the examples' `user` is the unit's User=,
# for whom logrotate creates the logs.
set -u
src=${1:?usage: check_pid_path.sh SOURCE_ROOT PATH/proxyd PATH/proxyd.8 UNIT LOGROTATE}
usage="usage: check_pid_path.sh SOURCE_ROOT PATH/proxyd PATH/proxyd.8 PATH/proxyd.service PATH/proxyd.logrotate"
bin=${2:?$usage}
man=${3:?$usage}
unit=${4:?$usage}
rot=${5:?$usage}
fail() { echo "$*"; exit 1; }
pid=$("$bin" -h | sed -n 's/.*pid_file, default \([^)]*\)).*/\1/p')
[ -n "$pid" ] || fail "proxyd -h names no default pid file"
dir=$(dirname "$pid")
case "$dir" in /run/?*) ;; *) fail "the default pid file $pid is not in a folder of /run (RuntimeDirectory)" ;; esac
grep -qx "RuntimeDirectory=${dir#/run/}" "$unit" || fail "proxyd.service: RuntimeDirectory is not ${dir#/run/}"
grep -q "^ReadWritePaths=.*$dir" "$unit" || fail "proxyd.service: ReadWritePaths lacks $dir"
grep -q "$pid" "$rot" || fail "proxyd.logrotate does not read $pid"
grep -q "$pid" "$man" || fail "the man page does not name $pid"
grep -q "$pid" "$src/README.md" || fail "README.md does not name $pid"
for f in "$src"/examples/*.ini; do
	for p in $(sed -n 's/^pid_file *= *\([^ ;]*\).*/\1/p' "$f"); do
		case "$p" in /*) [ "$p" = "$pid" ] || fail "$f: pid_file = $p, not the default $pid" ;; esac
	done
done
# Any other pid file named in what is shipped (nginx's own, quoted by the seed's translation, aside) disagrees.
others=$(grep -rhoE '/(var/)?run/[A-Za-z0-9_./-]*[.]pid' "$src/README.md" "$unit" "$rot" "$src/packaging" "$src/examples" "$man" \
	"$src"/docs/*.md | grep -v nginx | sort -u | grep -vx "$pid")
[ -z "$others" ] || fail "other pid files named: $others"
user=$(sed -n 's/^User=//p' "$unit")
for f in "$src"/examples/*.ini; do
	u=$(sed -n 's/^user *= *\([^ ;]*\).*/\1/p' "$f")
	[ -z "$u" ] || [ "$u" = "$user" ] || fail "$f: user = $u, but the unit runs as $user"
done
grep -q "create 0640 $user " "$rot" || fail "proxyd.logrotate creates logs for another user than $user"
echo "pid file $pid and user $user agree everywhere"
