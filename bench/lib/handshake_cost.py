#!/usr/bin/env python3
# bench/lib/handshake_cost.py: where a full TLS handshake's user-space instructions go in proxyd, by callgrind: the
# whole handshake, the certificate signature, the key exchange, the rest. Repeatable (instructions, not seconds).
# Usage: bench/lib/handshake_cost.py BUILD rsa|ecdsa 1.2|1.3 [N]   (BUILD holds proxyd/proxyd and bench/origin/origin)
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

# A step is a list of chains; a chain lists functions that nest (outermost first, the name differs between mbedTLS
# versions and between TLS 1.2's ECDH API and TLS 1.3's PSA calls). A chain counts its largest inclusive cost (its
# outermost present member); a step is the sum of its chains, which never nest in one another.
STEPS = {
    "signature (CertificateVerify / ServerKeyExchange)": [
        ["mbedtls_pk_sign_ext", "mbedtls_pk_sign_restartable", "mbedtls_pk_sign", "psa_sign_hash"]],
    "key exchange (ephemeral key + shared secret)": [
        ["mbedtls_ecdh_make_params"], ["mbedtls_ecdh_calc_secret"], ["mbedtls_ecdh_read_public"],
        ["mbedtls_ssl_tls13_generate_and_write_xxdh_key_exchange", "mbedtls_ssl_tls13_generate_and_write_ecdh_key_exchange",
         "psa_generate_key"],
        ["psa_raw_key_agreement"]],
}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def certs(d, kind):
    def sh(*argv):
        subprocess.run(argv, check=True, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    key = ["-newkey", "rsa:2048"] if kind == "rsa" else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    sh("openssl", "req", "-x509", *key, "-nodes", "-keyout", "leaf.key", "-out", "leaf.pem", "-days", "2",
       "-subj", "/CN=localhost")


def handshakes(port, version, n):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = (ssl.TLSVersion.TLSv1_2 if version == "1.2"
                                                 else ssl.TLSVersion.TLSv1_3)
    for _ in range(n):  # a fresh connection without a session each time: a full handshake
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"GET /size/100 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                while s.recv(65536):
                    pass


def run(build, d, kind, version, n):
    """Ir of proxyd over n full handshakes (each with one request), and callgrind's output file."""
    op = subprocess.Popen([os.path.join(build, "bench/origin/origin"), "-l", "127.0.0.1:0", "-w", "1", "-q"],
                          stdout=subprocess.PIPE, text=True)
    oport = int(re.search(r":(\d+)", op.stdout.readline()).group(1))
    port = free_port()
    with open(os.path.join(d, "p.ini"), "w") as f:
        f.write(f"[global]\nworkers = 1\nerror_log = {d}/error.log\npid_file = {d}/proxyd.pid\naccess_log = off\n"
                f"[upstream o]\nserver = 127.0.0.1:{oport}\n[server s]\nlisten = 127.0.0.1:{port} tls\n"
                f"tls_cert = {d}/leaf.pem\ntls_key = {d}/leaf.key\nproxy_pass = o\n")
    out = os.path.join(d, f"cg-{n}.out")
    pp = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                           os.path.join(build, "proxyd/proxyd"), "-c", os.path.join(d, "p.ini")],
                          stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        handshakes(port, version, n)
    finally:
        pp.send_signal(signal.SIGTERM)
        pp.wait(timeout=120)
        op.terminate()
        op.wait()
    return out


def inclusive(cg):
    """function name -> inclusive Ir, from callgrind_annotate."""
    txt = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", cg], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    with open(cg) as f:
        m = re.search(r"^(?:summary|totals):\s+(\d+)", f.read(), re.M)
    cost = {"__total__": int(m.group(1))}
    for m in re.finditer(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\S*:)?(\w+)\b", txt, re.M):
        cost.setdefault(m.group(2), int(m.group(1).replace(",", "")))
    return cost


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: handshake_cost.py BUILD rsa|ecdsa 1.2|1.3 [N]")
    build, kind, version = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 50
    d = tempfile.mkdtemp(prefix="pxhs-")
    certs(d, kind)
    base, full = inclusive(run(build, d, kind, version, 1)), inclusive(run(build, d, kind, version, n + 1))
    total = (sum_total(full) - sum_total(base)) / n
    print(f"proxyd {kind} TLS {version}: {total:,.0f} instructions per full handshake (with one request), "
          f"callgrind over {n} handshakes (difference of runs with {n + 1} and 1)")
    rest = total
    for step, chains in STEPS.items():
        ir = sum(max([full.get(f, 0) - base.get(f, 0) for f in chain] + [0]) for chain in chains) / n
        rest -= ir
        print(f"  {step}: {ir:,.0f} ({100 * ir / total:.0f}%)")
    print(f"  everything else (hashing, record layer, certificate, HTTP): {rest:,.0f} ({100 * rest / total:.0f}%)")


def sum_total(cost):
    return cost.get("__total__", 0)


if __name__ == "__main__":
    main()
