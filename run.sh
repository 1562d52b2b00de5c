#!/usr/bin/env bash
# Installs what is missing, builds a release build, then serves the demo: bench/origin on 127.0.0.1:8081
# published by proxyd on https://localhost:8443 (self-signed) and http://localhost:8080 (redirect). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/deps.sh
px_ensure_packages "${PX_BUILD_PACKAGES[@]}" openssl curl
px_ensure_mbedtls

# Link-time optimisation inlines across the layers' files: 18% fewer instructions per proxied request (README).
[ -d build ] || meson setup build --buildtype=release -Db_lto=true -Dtests=disabled >/dev/null
ninja -C build

mkdir -p state
if [ ! -f state/demo-cert.pem ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost -keyout state/demo-key.pem -out state/demo-cert.pem 2>/dev/null
    chmod 600 state/demo-key.pem
fi

pids=()
cleanup() {
    trap - INT TERM EXIT
    [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
    wait 2>/dev/null
    echo "demo stopped"
}
trap cleanup INT TERM EXIT

build/bench/origin/origin -l 127.0.0.1:8081 -q >/dev/null &
pids+=($!)
build/proxyd/proxyd -t -c examples/quickstart.ini
build/proxyd/proxyd -c examples/quickstart.ini &
pids+=($!)
for _ in $(seq 50); do
    curl -s -o /dev/null --cacert state/demo-cert.pem https://localhost:8443/ && break
    sleep 0.1
done
cat <<MSG

proxyd is serving the demo. Try:
  curl --cacert state/demo-cert.pem https://localhost:8443/size/100
  curl --cacert state/demo-cert.pem https://localhost:8443/echo -d hello
  curl -i http://localhost:8080/anything
Press Ctrl-C to stop.
MSG
wait
