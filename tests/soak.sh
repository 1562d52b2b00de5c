#!/usr/bin/env bash
# Longer security runs, not part of ./test.sh (about 5 minutes on 2 cores): slowhttptest slowloris (-H), slow body
# (-B) and slow read (-X) with 2,000 connections against proxyd and against nginx (same timeouts, same origin),
# measuring a normal client's request rate (wrk) unloaded and during each attack; then testssl.sh against a proxyd
# TLS listener with a self-signed certificate. Prints a markdown summary (the figures in docs/security.md).
#
# Usage: tests/soak.sh [SECONDS]     SECONDS: length of each wrk measurement (default 10)
# Env:   PX_SOAK_CONNS (2000), PX_SOAK_BUILD (build-soak, a release build), PX_SOAK_SKIP_TLS=1,
#        PX_SOAK_PENDING (9000 connections holding a pending request body)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
px_ensure_packages "${PX_BUILD_PACKAGES[@]}" slowhttptest testssl.sh nginx-light wrk openssl

secs=${1:-10}
conns=${PX_SOAK_CONNS:-2000}
build=${PX_SOAK_BUILD:-build-soak}
[ -d "$build" ] || meson setup "$build" --buildtype=release -Dtests=disabled >/dev/null
ninja -C "$build" proxyd/proxyd bench/origin/origin >/dev/null

ulimit -n "$(ulimit -Hn)" # slowhttptest needs one descriptor per connection
tmp=$(mktemp -d /tmp/pxsoak-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

oport=$(free_port)
"$build/bench/origin/origin" -l "127.0.0.1:$oport" -w 1 -q >"$tmp/origin.out" 2>&1 &
pids+=($!)
wait_port "$oport"

# proxyd and nginx with the same timeouts (10 s) and two workers each.
pport=$(free_port)
cat >"$tmp/proxyd.ini" <<EOF
[global]
workers = 2
max_connections = 8192
nofile = 40000
error_log = $tmp/proxyd.err
pid_file = $tmp/proxyd.pid
log_level = error
client_header_timeout = 10s
client_body_timeout = 10s
send_timeout = 10s
[upstream o]
server = 127.0.0.1:$oport
keepalive = 64
[server s]
listen = 127.0.0.1:$pport
proxy_pass = o
EOF
"$build/proxyd/proxyd" -c "$tmp/proxyd.ini" &
pids+=($!)
wait_port "$pport"

nport=$(free_port)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 2;
worker_rlimit_nofile 40000;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log error;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    client_header_timeout 10s;
    client_body_timeout 10s;
    send_timeout 10s;
    upstream o { server 127.0.0.1:$oport; keepalive 64; }
    server {
        listen 127.0.0.1:$nport;
        location / { proxy_pass http://o; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" &
pids+=($!)
wait_port "$nport"

# A normal client's rate: requests/s over $secs seconds, 1 thread, 8 connections, 100-byte responses.
rate() { wrk -t1 -c8 -d"${secs}s" "http://127.0.0.1:$1/size/100" 2>&1 | awk '/Requests\/sec/ {printf "%d", $2}'; }
held() { ss -Htn state established "( sport = :$1 )" | wc -l; }

# attack NAME PORT FLAGS...: starts slowhttptest, lets the connections build up, measures, stops it.
attack() {
    local name=$1 port=$2
    shift 2
    slowhttptest "$@" -c "$conns" -r 400 -i 5 -l $((secs + 20)) -u "http://127.0.0.1:$port/" \
        -o "$tmp/$name-$port" >/dev/null 2>&1 &
    local sp=$!
    sleep 8
    local h1 r h2
    h1=$(held "$port")
    r=$(rate "$port")
    h2=$(held "$port")
    kill "$sp" 2>/dev/null || true
    wait "$sp" 2>/dev/null || true
    sleep 2
    echo "$r $h1 $h2"
}

echo "| attack ($conns connections) | server | normal client req/s | share of unloaded | connections held (start/end of measure) |"
echo "|---|---|---|---|---|"
for srv in proxyd:$pport nginx:$nport; do
    name=${srv%%:*} port=${srv##*:}
    base=$(rate "$port")
    echo "| none | $name | $base | 100% | - |"
    for a in "slowloris:-H" "slow-body:-B -s 1000000" "slow-read:-X -k 4 -n 5 -w 16 -y 32 -z 32"; do
        # shellcheck disable=SC2086
        read -r r h1 h2 <<<"$(attack "${a%%:*}" "$port" ${a#*:})"
        echo "| ${a%%:*} | $name | $r | $((100 * r / (base > 0 ? base : 1)))% | $h1 / $h2 |"
    done
done

# Memory per connection with pending bodies: each client announces 100 MB and sends 1 KiB, then waits.
pb=${PX_SOAK_PENDING:-9000}
echo
python3 tests/pending_bodies.py --port "$pport" --pid "${pids[1]}" --count "$pb" || echo "pending bodies: FAILED"

[ "${PX_SOAK_SKIP_TLS:-0}" = 1 ] && exit 0
tport=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    2>/dev/null
cat >"$tmp/tls.ini" <<EOF
[global]
workers = 1
error_log = $tmp/tls.err
pid_file = $tmp/tls.pid
[upstream o]
server = 127.0.0.1:$oport
[server t]
listen = 127.0.0.1:$tport tls
tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem
proxy_pass = o
EOF
"$build/proxyd/proxyd" -c "$tmp/tls.ini" &
pids+=($!)
wait_port "$tport"
echo
echo "testssl -p -s -U -S (proxyd TLS listener, defaults, self-signed certificate):"
testssl --quiet --color 0 --warnings off -p -s -U -S --jsonfile "$tmp/testssl.json" "127.0.0.1:$tport" \
    >"$tmp/testssl.txt" 2>&1 || true
python3 - "$tmp/testssl.json" <<'EOF'
import json, sys, collections
items = json.load(open(sys.argv[1]))
sev = collections.Counter(i.get("severity", "?") for i in items)
print("findings by severity:", dict(sev))
bad = [i for i in items if i.get("severity") in ("LOW", "MEDIUM", "HIGH", "CRITICAL")]
for i in bad:  # cert_* findings come from the throw-away self-signed certificate, not from proxyd
    print(f"  {i['severity']:8} {i['id']}: {i['finding']}")
vuln = [i for i in items if "VULNERABLE" in i.get("finding", "").upper() and "NOT VULNERABLE" not in i["finding"].upper()]
print("vulnerable findings:", len(vuln), "| non-certificate findings LOW or worse:",
      len([i for i in bad if not i["id"].startswith("cert") and i["id"] != "DNS_CAArecord"]))
EOF
