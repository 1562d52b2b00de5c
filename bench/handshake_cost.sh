#!/usr/bin/env bash
# bench/handshake_cost.sh: callgrind instruction counts of proxyd's side of one full TLS handshake (ECDSA P-256 and
# RSA-2048 certificates, TLS 1.2 and 1.3, X25519), and of its steps (signature, key exchange), from the difference
# between a proxyd that served N+1 handshakes (openssl s_client, no resumption) and one that served 1.
# Usage: bench/handshake_cost.sh [BUILD_DIR (default build)] [N (default 20)]
set -euo pipefail
build="${1:-build}"
n="${2:-20}"
proxyd="$build/proxyd/proxyd"
[ -x "$proxyd" ] || { echo "no $proxyd: build it first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
port=$((20000 + RANDOM % 20000))

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=a.test \
    -keyout "$tmp/ec.key" -out "$tmp/ec.crt" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=a.test -keyout "$tmp/rsa.key" -out "$tmp/rsa.crt" \
    2>/dev/null
chmod 600 "$tmp"/*.key

# Ir of one callgrind run of proxyd serving $3 handshakes with certificate $1 and s_client flag $2; the inclusive
# costs of the functions named below go to $tmp/fn.$4.
run() {
    cat >"$tmp/p.ini" <<INI
[global]
workers = 1
error_log = $tmp/error.log
pid_file = $tmp/p.pid
tls_session_cache = off
tls_session_tickets = off
[server a]
listen = 127.0.0.1:$port tls
tls_cert = $tmp/$1.crt
tls_key = $tmp/$1.key
return = 200 ok
INI
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$4" "$proxyd" -c "$tmp/p.ini" 2>/dev/null &
    local pid=$!
    for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done # up
    local ok=0
    for _ in $(seq "$3"); do # X25519 for the key exchange; P-256 listed too, as TLS 1.2 needs the ECDSA key's curve
        openssl s_client -connect 127.0.0.1:$port "$2" -groups X25519:P-256 -servername a.test </dev/null 2>&1 |
            grep -q '^New, TLS' && ok=$((ok + 1))
    done
    kill -TERM "$pid"
    wait "$pid" || true
    [ "$ok" -eq "$3" ] || { echo "only $ok of $3 handshakes completed ($1 $2)" >&2; exit 1; }
    callgrind_annotate --inclusive=yes "$tmp/cg.$4" 2>/dev/null >"$tmp/fn.$4"
}

total() { grep 'PROGRAM TOTALS' "$tmp/fn.$1" | awk '{gsub(",", "", $1); print $1}'; }
# Inclusive Ir of the first function whose name matches $2 (a regex), in run $1.
fn() { awk -v re="$2" '$0 ~ re {gsub(",", "", $1); print $1; exit}' "$tmp/fn.$1"; }

printf '%-9s %-8s %14s %14s %14s\n' cert version "Ir/handshake" "signature" "key exchange"
for cert in ec rsa; do
    for v in -tls1_2 -tls1_3; do
        run "$cert" "$v" 1 base
        run "$cert" "$v" $((n + 1)) many
        per=$(( ($(total many) - $(total base)) / n ))
        sig=0 kex=0
        for f in ':mbedtls_pk_sign_restartable ' ':mbedtls_pk_sign_ext '; do # one calls the other (ECDSA, TLS 1.3)
            a=$(fn many "$f"); b=$(fn base "$f")
            [ -n "$a" ] && [ $(((a - ${b:-0}) / n)) -gt "$sig" ] && sig=$(((a - ${b:-0}) / n))
        done
        # TLS 1.2: the legacy ECDH API; TLS 1.3: PSA (key generation, its public half, the agreement).
        for f in ':mbedtls_ecdh_make_params ' ':mbedtls_ecdh_calc_secret ' ':psa_generate_key ' \
            ':psa_export_public_key ' ':psa_raw_key_agreement '; do
            a=$(fn many "$f"); b=$(fn base "$f")
            [ -n "$a" ] && kex=$((kex + (a - ${b:-0}) / n))
        done
        printf '%-9s %-8s %14d %14d %14d\n' "$cert" "${v#-}" "$per" "$sig" "$kex"
    done
done
