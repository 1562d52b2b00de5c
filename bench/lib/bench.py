#!/usr/bin/env python3
# bench/lib/bench.py: the body of bench/run: sets up origin, TLS upstream and the three proxies, runs every scenario
# A B C A B C, and hands the measurements to report.py. Loopback only; proxies on CPU 0, load tools on CPU 1.
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procs  # noqa: E402
import report  # noqa: E402
from procs import Proc, log  # noqa: E402

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONF = os.path.join(BENCH, "conf")
PROXIES = ["proxyd", "nginx", "haproxy"]
PROXY_CPU, LOAD_CPU = 0, 1
CLK_TCK = os.sysconf("SC_CLK_TCK")
S_TIME_CLIENTS = 8
NO_TLS = "skipped (proxyd has no TLS yet)"

# key: (title, unit, better, listener, path, tool, client TLS profile)
# The proxies offer TLS 1.2 and 1.3 alike; the client picks the version, suite and signature scheme through an
# OpenSSL configuration of its own (PROFILES, passed as OPENSSL_CONF to wrk and the probes; s_time_args() for s_time),
# so every proxy runs one configuration and every row pins exactly what is negotiated.
THROUGHPUT = {
    "plain": ("plain HTTP keep-alive, 100 B", "req/s", "higher", "plain", "/size/100", "wrk", None),
    "tls": ("TLS 1.2 to the client, keep-alive, 100 B", "req/s", "higher", "tls", "/size/100", "wrk", "tls12"),
    "tls13": ("TLS 1.3 to the client, keep-alive, 100 B", "req/s", "higher", "tls", "/size/100", "wrk", "tls13"),
    "tls2": ("TLS 1.3 both ways (TLS 1.3 upstream), 100 B", "req/s", "higher", "tls2", "/size/100", "wrk", "tls13"),
    "handshake": ("full TLS 1.2 handshakes, RSA-2048 (s_time -new)", "conn/s", "higher", "tls", "/size/100",
                  "s_time-new", "tls12"),
    "handshake_ec": ("full TLS 1.2 handshakes, ECDSA P-256 (s_time -new)", "conn/s", "higher", "ecdsa", "/size/100",
                     "s_time-new", "tls12-ec"),
    "handshake13": ("full TLS 1.3 handshakes, RSA-2048 (s_time -new)", "conn/s", "higher", "tls", "/size/100",
                    "s_time-new", "tls13"),
    "handshake13_ec": ("full TLS 1.3 handshakes, ECDSA P-256 (s_time -new)", "conn/s", "higher", "ecdsa",
                       "/size/100", "s_time-new", "tls13-ec"),
    "resume": ("resumed TLS 1.2 handshakes (s_time -reuse)", "conn/s", "higher", "tls", "/size/100", "s_time",
               "tls12"),
    "resume13": ("resumed TLS 1.3 handshakes (s_time -reuse)", "conn/s", "higher", "tls", "/size/100", "s_time",
                 "tls13"),
    "guarded": ("plain keep-alive, 100 B, allow/deny + limit_conn + limit_req (+ proxyd's auth_guard) on", "req/s",
                "higher", "guarded", "/size/100", "wrk", None),
    "plain64k": ("64 KiB body, plain keep-alive", "req/s", "higher", "plain", "/size/65536", "wrk", None),
    "tls64k": ("64 KiB body, TLS 1.3 keep-alive", "req/s", "higher", "tls", "/size/65536", "wrk", "tls13"),
}
# Client-side OpenSSL settings per profile (system_default section: applies to every SSL_CTX the tool makes).
# X25519 first (P-256 listed too: in TLS 1.2 the client's groups also bound the ECDSA certificate's curve, RFC 8422);
# AES-128-GCM; RSA in TLS 1.3 is RSA-PSS by the protocol.
PROFILES = {
    "tls12": "MinProtocol = TLSv1.2\nMaxProtocol = TLSv1.2\nCipherString = ECDHE-RSA-AES128-GCM-SHA256\n",
    "tls12-ec": "MinProtocol = TLSv1.2\nMaxProtocol = TLSv1.2\nCipherString = ECDHE-ECDSA-AES128-GCM-SHA256\n",
    "tls13": "MinProtocol = TLSv1.3\nMaxProtocol = TLSv1.3\nCiphersuites = TLS_AES_128_GCM_SHA256\n"
             "SignatureAlgorithms = rsa_pss_rsae_sha256:ecdsa_secp256r1_sha256\n",
    "tls13-ec": "MinProtocol = TLSv1.3\nMaxProtocol = TLSv1.3\nCiphersuites = TLS_AES_128_GCM_SHA256\n"
                "SignatureAlgorithms = ecdsa_secp256r1_sha256\n",
}


def s_time_args(profile):
    """openssl s_time sets its own protocol bounds (to "any" without a flag), which override the profile's MinProtocol
    and MaxProtocol (checked against s_server -msg: a "TLS 1.2" profile negotiated TLS 1.3), so the profile's version
    and suite go on its command line; its other settings are the defaults anyway (X25519 first; the certificate's key
    type decides the signature)."""
    conf = dict(line.split(" = ", 1) for line in PROFILES[profile].splitlines())
    if conf["MaxProtocol"] == "TLSv1.3":
        return ["-tls1_3", "-ciphersuites", conf["Ciphersuites"]]
    return ["-tls1_2", "-cipher", conf["CipherString"]]


PROFILE_VERSION = {"tls12": "TLSv1.2", "tls12-ec": "TLSv1.2", "tls13": "TLSv1.3", "tls13-ec": "TLSv1.3"}
OTHER = ["mem", "cost"]
CPU_ROWS = ("plain", "guarded", "tls", "tls13", "tls2")  # throughput scenarios whose proxy CPU time per request is reported
ALL = list(THROUGHPUT) + OTHER


def parse_args():
    ap = argparse.ArgumentParser(prog="bench/run", description="proxyd side by side with nginx and HAProxy")
    ap.add_argument("--quick", action="store_true", help="1 round of short runs (under 3 minutes)")
    ap.add_argument("--rounds", type=int, help="rounds of A B C (default 3; --quick: 1)")
    ap.add_argument("--duration", type=int, help="seconds per wrk run (default 10; --quick: 3)")
    ap.add_argument("--only", help="comma-separated scenarios: " + ",".join(ALL))
    ap.add_argument("--idle", type=int, help="idle connections for mem (default 5000; --quick: 1000)")
    ap.add_argument("--build", required=True, help="meson build directory holding proxyd and bench/origin")
    ap.add_argument("--out", default=os.path.join(BENCH, "results"), help="results directory")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs)")
    a = ap.parse_args()
    a.rounds = a.rounds or (1 if a.quick else 3)
    a.duration = a.duration or (3 if a.quick else 10)
    a.idle = a.idle or (1000 if a.quick else 5000)
    a.strace_n = 5000 if a.quick else 20000
    a.callgrind_n = 1000 if a.quick else 5000
    a.only = a.only.split(",") if a.only else ALL
    bad = [s for s in a.only if s not in ALL]
    if bad:
        ap.error(f"unknown scenario {bad}; known: {','.join(ALL)}")
    return a


class Bench:
    def __init__(self, args):
        self.a = args
        self.dir = tempfile.mkdtemp(prefix="proxyd-bench-")
        self.raw = os.path.join(args.out, "raw")
        os.makedirs(os.path.join(self.raw, "conf"), exist_ok=True)
        self.rawlog = open(os.path.join(self.raw, "tools.log"), "w")
        self.ports = {k: procs.free_port() for k in ("ORIGIN", "TERM")}
        self.listen = {p: {k: procs.free_port() for k in ("plain", "guarded", "tls", "tls2", "ecdsa")}
                       for p in PROXIES}
        self.proxyd_tls = False
        self.unsupported = set()  # (proxy, "TLSv1.x") a proxy refused in the start-up checks
        self.procs = {}
        self.rows = {}  # scenario key -> report.Row
        self.commands = {}  # what was run, for the report
        self.load_cpu = collections.defaultdict(list)  # (scenario, proxy) -> busy % of the load CPU per run
        self.notes = [os.environ["PROXYD_BENCH_STALE"]] if os.environ.get("PROXYD_BENCH_STALE") else []

    # ---- setup -----------------------------------------------------------------------------------------------
    def sh(self, cmd):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir)

    def make_certs(self):
        """A private CA and an RSA-2048 leaf for localhost/127.0.0.1: what every TLS listener and upstream uses."""
        self.sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                 "-days", "7", "-subj", "/CN=bench CA"])
        self.sh(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
                 "-subj", "/CN=localhost"])
        with open(os.path.join(self.dir, "leaf.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        self.sh(["openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "leaf.pem", "-days", "7", "-extfile", "leaf.ext"])
        # The same names on an ECDSA P-256 key, for the ECDSA handshake rows (its own listener on every proxy, so
        # no proxy's certificate selection is measured, only the signature).
        self.sh(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 "leaf-ec.key", "-out", "leaf-ec.csr", "-subj", "/CN=localhost"])
        self.sh(["openssl", "x509", "-req", "-in", "leaf-ec.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "leaf-ec.pem", "-days", "7", "-extfile", "leaf.ext"])
        for bundle, parts in (("leaf-bundle.pem", ("leaf.pem", "leaf.key")),
                              ("leaf-ec-bundle.pem", ("leaf-ec.pem", "leaf-ec.key"))):
            with open(os.path.join(self.dir, bundle), "w") as out:
                for name in parts:
                    with open(os.path.join(self.dir, name)) as f:
                        out.write(f.read())
        for name, settings in PROFILES.items():
            with open(os.path.join(self.dir, f"openssl-{name}.cnf"), "w") as f:
                f.write("openssl_conf = conf\n[conf]\nssl_conf = ssl\n[ssl]\nsystem_default = client\n[client]\n"
                        "Groups = X25519:P-256\n" + settings)
            shutil.copy(os.path.join(self.dir, f"openssl-{name}.cnf"), os.path.join(self.raw, "conf"))

    def client_env(self, profile):
        """The environment of a client tool for a TLS profile (None: the tool's own defaults)."""
        env = dict(os.environ)
        if profile:
            env["OPENSSL_CONF"] = os.path.join(self.dir, f"openssl-{profile}.cnf")
        return env

    def fields(self, proxy):
        f = {"DIR": self.dir, "ORIGIN_PORT": self.ports["ORIGIN"], "TERM_PORT": self.ports["TERM"]}
        if proxy:
            f.update({"PLAIN_PORT": self.listen[proxy]["plain"], "TLS_PORT": self.listen[proxy]["tls"],
                      "TLS2_PORT": self.listen[proxy]["tls2"], "ECDSA_PORT": self.listen[proxy]["ecdsa"],
                      "GUARD_PORT": self.listen[proxy]["guarded"]})
        return f

    def render_proxyd(self, with_tls):
        f = self.fields("proxyd")
        dest = os.path.join(self.dir, "proxyd.ini")
        procs.render(os.path.join(CONF, "proxyd.ini.in"), dest, f)
        if with_tls:
            procs.render(os.path.join(CONF, "proxyd-tls.ini.in"), dest + ".tls", f)
            with open(dest, "a") as out, open(dest + ".tls") as extra:
                out.write("\n" + extra.read())
        shutil.copy(dest, os.path.join(self.raw, "conf", "proxyd.ini"))
        return dest

    def render_configs(self):
        for d in ("nginx-tmp", "term-tmp", "www/size"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        for n in (100, 65536):  # the terminator serves what the origin's /size/N serves
            with open(os.path.join(self.dir, "www/size", str(n)), "w") as f:
                f.write("x" * n)
        for name, tmpl in (("nginx.conf", "nginx.conf.in"), ("haproxy.cfg", "haproxy.cfg.in"),
                           ("term.conf", "tls-terminator.conf.in")):
            proxy = {"nginx.conf": "nginx", "haproxy.cfg": "haproxy"}.get(name)
            dest = procs.render(os.path.join(CONF, tmpl), os.path.join(self.dir, name), self.fields(proxy))
            shutil.copy(dest, os.path.join(self.raw, "conf", name))

    def argv(self, proxy, build):
        d = self.dir
        return {
            "proxyd": [os.path.join(build, "proxyd", "proxyd"), "-c", os.path.join(d, "proxyd.ini")],
            "nginx": ["nginx", "-p", d + "/", "-c", os.path.join(d, "nginx.conf"), "-e", os.path.join(d, "nginx-e.log")],
            "haproxy": ["haproxy", "-db", "-f", os.path.join(d, "haproxy.cfg")],
        }[proxy]

    def start_proxy(self, proxy, valgrind_out=None):
        argv = self.argv(proxy, self.a.build)
        timeout = 10
        if valgrind_out:
            argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + valgrind_out] + argv
            timeout = 120
        p = Proc(proxy, argv, PROXY_CPU, os.path.join(self.dir, proxy + ".log")).start()
        p.wait_port(self.listen[proxy]["plain"], timeout)
        self.commands.setdefault(f"start {proxy}" + (" under callgrind" if valgrind_out else ""),
                                 "taskset -c 0 " + " ".join(argv))
        return p

    def check(self, proxy, listener, path, want_len, version=None):
        tls = listener not in ("plain", "guarded")
        status, length, cipher = procs.probe(self.listen[proxy][listener], path, tls, version=version)
        if status != 200 or length != want_len:
            raise RuntimeError(f"{proxy} {listener} {path}: status {status}, {length} bytes (want 200, {want_len})")
        return cipher

    def start_backends(self):
        origin = os.path.join(self.a.build, "bench", "origin", "origin")
        o = Proc("origin", [origin, "-l", f"127.0.0.1:{self.ports['ORIGIN']}", "-q"], LOAD_CPU,
                 os.path.join(self.dir, "origin.log")).start()
        o.wait_port(self.ports["ORIGIN"], 10)
        t = Proc("tls-terminator", ["nginx", "-p", self.dir + "/", "-c", os.path.join(self.dir, "term.conf"),
                                    "-e", os.path.join(self.dir, "term-e.log")], LOAD_CPU,
                 os.path.join(self.dir, "term.log")).start()
        t.wait_port(self.ports["TERM"], 10)
        self.commands["origin"] = f"taskset -c 1 {origin} -l 127.0.0.1:PORT -q"
        self.commands["tls-terminator"] = "taskset -c 1 nginx -p DIR/ -c DIR/term.conf (bench/conf/tls-terminator.conf.in)"

    def detect_proxyd_tls(self):
        """proxyd takes part in the TLS scenarios only if it accepts the TLS config and really serves TLS both ways."""
        binary = self.argv("proxyd", self.a.build)[0]
        ini = self.render_proxyd(True)
        t = subprocess.run([binary, "-t", "-c", ini], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if t.returncode != 0:
            self.notes.append("proxyd -t rejects the TLS configuration: " + t.stdout.decode(errors="replace").strip())
        else:
            p = None
            try:
                p = self.start_proxy("proxyd")
                self.check("proxyd", "tls", "/size/100", 100)
                self.check("proxyd", "tls2", "/size/100", 100)
                self.proxyd_tls = True
            except (OSError, RuntimeError) as e:
                self.notes.append(f"proxyd accepts the TLS configuration but does not serve it: {e}")
            finally:
                if p:
                    p.stop()
        if not self.proxyd_tls:
            self.render_proxyd(False)
        log("proxyd TLS: " + ("yes" if self.proxyd_tls else "no, TLS scenarios skipped for proxyd"))

    def has_tls(self, proxy):
        return proxy != "proxyd" or self.proxyd_tls

    # ---- throughput ------------------------------------------------------------------------------------------
    def load_cmd(self, key, proxy):
        title, unit, better, listener, path, tool, profile = THROUGHPUT[key]
        scheme = "http" if listener in ("plain", "guarded") else "https"
        url = f"{scheme}://127.0.0.1:{self.listen[proxy][listener]}{path}"
        d = self.a.duration
        if tool == "wrk":
            return ["wrk", "-t1", "-c64", f"-d{d}s", url]
        return ["openssl", "s_time", "-connect", f"127.0.0.1:{self.listen[proxy][listener]}", "-www", path,
                "-time", str(d), "-new" if tool == "s_time-new" else "-reuse"] + s_time_args(profile)

    def measure(self, key, proxy, round_no):
        """One timed run against a proxy: returns (value, proxy CPU %, error note or '')."""
        tool, profile = THROUGHPUT[key][5:7]
        cmd, env = self.load_cmd(key, proxy), self.client_env(profile)
        pid = self.procs[proxy].pid
        t0, c0, l0 = time.monotonic(), procs.cpu_ticks(pid), procs.cpu_busy(LOAD_CPU)
        if tool.startswith("s_time"):
            # s_time clients side by side: one sequential client would leave the proxy idle between handshakes
            ps = [subprocess.Popen(["taskset", "-c", str(LOAD_CPU)] + cmd, stdout=subprocess.PIPE, env=env,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL) for _ in range(S_TIME_CLIENTS)]
            outs = [p.communicate(timeout=self.a.duration + 60)[0].decode(errors="replace") for p in ps]
            out = "\n".join(outs)
        else:
            out = procs.run(cmd, timeout=self.a.duration + 60, cpu=LOAD_CPU, env=env)
        dt, c1, l1 = time.monotonic() - t0, procs.cpu_ticks(pid), procs.cpu_busy(LOAD_CPU)
        self.load_cpu[(key, proxy)].append(100.0 * (l1[0] - l0[0]) / max(1, l1[1] - l0[1]))
        user, system = (c1[0] - c0[0]) / CLK_TCK, (c1[1] - c0[1]) / CLK_TCK
        cpu = 100.0 * (user + system) / dt
        total = re.search(r"(\d+) requests in", out)
        if key in CPU_ROWS and total:
            self.cpu_per_request(key, proxy, user, system, int(total.group(1)))
        self.rawlog.write(f"=== {key} {proxy} round {round_no}: {' '.join(cmd)}\n{out}\n")
        shown = " ".join((["OPENSSL_CONF=openssl-" + profile + ".cnf"] if profile else []) + ["taskset", "-c", "1"]
                         + cmd).replace(str(self.listen[proxy][THROUGHPUT[key][3]]), "PORT")
        self.commands.setdefault(key, shown + (f"  (x{S_TIME_CLIENTS} in parallel)" if tool.startswith("s_time")
                                               else ""))
        if tool.startswith("s_time"):
            return self.parse_s_time(out, dt, tool == "s_time") + (cpu,)
        value, note = self.parse_wrk(out)
        return value, note, cpu

    def cpu_per_request(self, key, proxy, user, system, requests):
        """The proxy's own CPU time per request: a cost that does not depend on the load generator, and, split into
        user and kernel time, what bounds the ratio (report.py's "What limits the ratios")."""
        for part, where, secs in (("user", "/proc utime", user), ("sys", "/proc stime", system)):
            name = "user" if part == "user" else "kernel"
            row = self.rows.setdefault(f"cpu_{part}_{key}", report.Row(
                f"cpu_{part}_{key}", f"{name} CPU per request ({key}, {where})", "ns/req", "lower"))
            row.add(proxy, secs * 1e9 / requests, None, "")

    @staticmethod
    def parse_wrk(out):
        m = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
        if not m:
            raise RuntimeError("no Requests/sec in wrk output: " + out[-300:])
        total = re.search(r"(\d+) requests in", out)
        errors = 0
        m2 = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if m2:
            errors += int(m2.group(1))
        m3 = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        if m3:
            errors += int(m3.group(1)) + int(m3.group(3)) + int(m3.group(4))
        note = ""
        if total and errors > 0.001 * max(1, int(total.group(1))):
            note = f"{errors} errors of {total.group(1)}"
        return float(m.group(1)), note

    @staticmethod
    def parse_s_time(out, dt, reuse):
        conns = [int(n) for n in re.findall(r"^(\d+) connections in [\d.]+s", out, re.M)]
        if len(conns) != S_TIME_CLIENTS:
            raise RuntimeError("unexpected s_time output: " + out[-300:])
        marks = "".join(re.findall(r"^[*r0-9]+$", out, re.M))
        reused = marks.count("r") / max(1, len(marks))
        # wrk is no tool for full handshakes: it keeps the session across its reconnects (SSL_clear), so nearly
        # every one resumes. s_time -new never offers a session; -reuse offers the first one each time.
        if reuse:
            note = "" if reused > 0.95 else f"only {reused:.0%} resumed"
        else:
            note = "" if reused == 0 else f"{reused:.0%} resumed"
        if re.search(r"bytes read 0\b", out) or re.search(r"(?m)^\d+ connections in .*\b0 bytes read per connection", out):
            note = (note + "; " if note else "") + "no response bytes read"
        # One connection left waiting stretches a client's run past the duration ("N connections in 69 real
        # seconds"): the rate then falls for that reason alone, so it is said.
        slow = [int(t) for t in re.findall(r"^\d+ connections in (\d+) real seconds", out, re.M)]
        if slow and max(slow) > 3 * min(slow) + 5:
            note = (note + "; " if note else "") + f"a client ran {max(slow)} s (a connection stalled)"
        return sum(conns) / dt, note

    def run_throughput(self):
        keys = [k for k in THROUGHPUT if k in self.a.only]
        if not keys:
            return
        for proxy in PROXIES:
            self.procs[proxy] = self.start_proxy(proxy)
            self.check(proxy, "plain", "/size/100", 100)
            self.check(proxy, "guarded", "/size/100", 100)
            if self.has_tls(proxy):
                for version in ("TLSv1.2", "TLSv1.3"):
                    for listener in ("tls", "ecdsa"):
                        try:
                            cipher = self.check(proxy, listener, "/size/100", 100, version)
                        except (OSError, RuntimeError) as e:
                            self.unsupported.add((proxy, version))
                            self.notes.append(f"{proxy} {listener} listener refuses a {version} client: {e}")
                            continue
                        self.notes.append(f"{proxy} {listener} listener negotiates {cipher} with a {version} client")
                self.check(proxy, "tls2", "/size/65536", 65536)
        for key in keys:
            title, unit, better = THROUGHPUT[key][:3]
            row = self.rows[key] = report.Row(key, title, unit, better)
            for r in range(1, self.a.rounds + 1):
                for proxy in PROXIES:
                    if THROUGHPUT[key][3] not in ("plain", "guarded") and not self.has_tls(proxy):
                        row.skip[proxy] = NO_TLS
                        continue
                    version = PROFILE_VERSION.get(THROUGHPUT[key][6])
                    if (proxy, version) in self.unsupported:
                        row.skip[proxy] = f"no {version}"
                        continue
                    try:
                        value, note, cpu = self.measure(key, proxy, r)
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        row.skip[proxy] = "failed"
                        log(f"[{key}] round {r}/{self.a.rounds} {proxy}: FAILED: {e}")
                        continue
                    row.add(proxy, value, cpu, note)
                    log(f"[{key}] round {r}/{self.a.rounds} {proxy}: {value:,.0f} {unit} "
                        f"(proxy CPU {cpu:.0f}%){' ' + note if note else ''}")
        for proxy in PROXIES:
            self.procs.pop(proxy).stop()

    # ---- idle memory and cost per request: fresh processes ---------------------------------------------------
    def idle_memory(self, proxy, tls):
        """tls: None (plain), "1.2" or "1.3"."""
        listener = "tls" if tls else "plain"
        p = self.start_proxy(proxy)
        try:
            self.ab(proxy, 200)  # warm the request path and the upstream pool
            if tls:
                for _ in range(4):
                    self.check(proxy, "tls", "/size/100", 100)
            time.sleep(0.5)
            before = procs.rss_bytes(p.pid)
            cmd = [sys.executable, os.path.join(BENCH, "lib", "idle_conns.py"), "--port",
                   str(self.listen[proxy][listener]), "--count", str(self.a.idle)] + (["--tls", tls] if tls else [])
            self.commands.setdefault("mem", "taskset -c 1 " + " ".join(cmd).replace(
                str(self.listen[proxy][listener]), "PORT") + "  (then VmRSS of the proxy before/after)")
            h = subprocess.Popen(["taskset", "-c", str(LOAD_CPU)] + cmd, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
            try:
                line = h.stdout.readline().strip()
                if not line.startswith("open "):
                    raise RuntimeError(f"idle_conns: {line or 'no output'}")
                opened = int(line.split()[1])
                time.sleep(1.0)
                after = procs.rss_bytes(p.pid)
                h.stdin.write("check\n")
                h.stdin.flush()
                alive = int(h.stdout.readline().split()[1])
                h.stdin.write("quit\n")
                h.stdin.flush()
            finally:
                h.wait(timeout=60)
            self.rawlog.write(f"=== mem {proxy} tls={tls}: VmRSS {before} -> {after} with {opened} opened, "
                              f"{alive} alive\n")
            note = "" if alive == opened else f"only {alive} of {opened} still open"
            return (after - before) / opened, note
        finally:
            p.stop()

    def run_memory(self):
        rows = [("mem_plain", None, "idle keep-alive memory, plain"), ("mem_tls", "1.2", "idle keep-alive memory, TLS 1.2"),
                ("mem_tls13", "1.3", "idle keep-alive memory, TLS 1.3")]
        for key, tls, title in rows:
            row = self.rows[key] = report.Row(key, f"{title} ({self.a.idle} conns)", "B/conn", "lower")
            for proxy in PROXIES:
                if tls and not self.has_tls(proxy):
                    row.skip[proxy] = NO_TLS
                    continue
                if tls and (proxy, "TLSv" + tls) in self.unsupported:
                    row.skip[proxy] = "no TLSv" + tls
                    continue
                try:
                    v, note = self.idle_memory(proxy, tls)
                except (OSError, RuntimeError, subprocess.TimeoutExpired, ValueError, IndexError) as e:
                    row.skip[proxy] = "failed"
                    log(f"[{key}] {proxy}: FAILED: {e}")
                    continue
                row.add(proxy, v, None, note)
                log(f"[{key}] {proxy}: {v:,.0f} bytes per idle connection{' ' + note if note else ''}")

    def ab(self, proxy, n):
        """n keep-alive requests over 4 connections to the plain listener; fails unless all succeeded on keep-alive."""
        cmd = ["ab", "-q", "-k", "-n", str(n), "-c", "4", f"http://127.0.0.1:{self.listen[proxy]['plain']}/size/100"]
        out = procs.run(cmd, timeout=600, cpu=LOAD_CPU)
        done = int(re.search(r"Complete requests:\s+(\d+)", out).group(1))
        failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
        ka = re.search(r"Keep-Alive requests:\s+(\d+)", out)
        non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
        if done != n or failed or non2xx:
            raise RuntimeError(f"ab against {proxy}: {done} complete, {failed} failed, "
                               f"{non2xx.group(1) if non2xx else 0} non-2xx")
        return int(ka.group(1)) if ka else 0

    def syscalls(self, proxy):
        p = self.start_proxy(proxy)
        out = os.path.join(self.dir, f"strace-{proxy}.txt")
        try:
            self.ab(proxy, 1000)
            st = subprocess.Popen(["strace", "-c", "-f", "-p", str(p.pid), "-o", out], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
            time.sleep(1.0)  # strace attaches to every thread of the process
            n = self.a.strace_n
            ka = self.ab(proxy, n)
            st.send_signal(2)
            st.wait(timeout=30)
        finally:
            p.stop()
        with open(out) as f:
            text = f.read()
        self.rawlog.write(f"=== cost syscalls {proxy} over {n} requests ({ka} keep-alive)\n{text}\n")
        total = re.search(r"^\s*100\.00\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?total\s*$", text, re.M)
        if not total:
            raise RuntimeError("no total line in strace -c output: " + text[-300:])
        note = "" if ka == n else f"only {ka} of {n} on keep-alive"
        self.commands.setdefault("syscalls", f"strace -c -f -p PID -o FILE, during: taskset -c 1 ab -q -k -n {n} "
                                 "-c 4 http://127.0.0.1:PORT/size/100 (after 1000 warm-up requests)")
        return int(total.group(1)) / n, note

    def instructions(self, proxy):
        """Ir of a run with extra requests minus Ir of a run without them, per request."""
        ir = {}
        n = self.a.callgrind_n
        for label, extra in (("base", 0), ("run", n)):
            out = os.path.join(self.dir, f"callgrind-{proxy}-{label}.out")
            p = self.start_proxy(proxy, valgrind_out=out)
            try:
                self.ab(proxy, 100)
                if extra:
                    self.ab(proxy, extra)
            finally:
                p.stop(timeout=120)
            with open(out) as f:
                m = re.search(r"^(?:summary|totals):\s+(\d+)", f.read(), re.M)
            if not m:
                raise RuntimeError(f"no totals in {out}")
            ir[label] = int(m.group(1))
        self.rawlog.write(f"=== cost instructions {proxy}: Ir base {ir['base']}, with {n} more requests {ir['run']}\n")
        self.commands.setdefault("instructions", "taskset -c 0 valgrind --tool=callgrind --callgrind-out-file=F "
                                 f"PROXY...; ab -q -k -n 100 -c 4 URL [; ab -q -k -n {n} -c 4 URL]; "
                                 "SIGTERM; (Ir_run - Ir_base) / " + str(n))
        return (ir["run"] - ir["base"]) / n

    def why(self, proxy, err):
        """The reason a run failed, in one line; valgrind's own diagnosis when it has one."""
        try:
            with open(os.path.join(self.dir, proxy + ".log"), errors="replace") as f:
                text = f.read()
        except OSError:
            text = ""
        m = re.findall(r"unhandled instruction bytes: .*|Unrecognised instruction at address .*\n.*", text)
        if m:
            return "valgrind stopped the proxy: " + " ".join(" ".join(m[-2:]).split())
        return " ".join(str(err).split())[:300]

    def run_cost(self):
        sc = self.rows["syscalls"] = report.Row("syscalls", "system calls per proxied request (plain)", "calls/req",
                                                "lower")
        ins = self.rows["instructions"] = report.Row("instructions", "user-space instructions per request (plain)",
                                                     "Ir/req", "lower")
        for proxy in PROXIES:
            for row, fn in ((sc, self.syscalls), (ins, self.instructions)):
                try:
                    v = fn(proxy)
                    note = ""
                    if isinstance(v, tuple):
                        v, note = v
                except (OSError, RuntimeError, subprocess.TimeoutExpired, AttributeError) as e:
                    row.skip[proxy] = "failed"
                    self.notes.append(f"{row.key} / {proxy} failed: {self.why(proxy, e)}")
                    log(f"[{row.key}] {proxy}: FAILED: {e}")
                    continue
                row.add(proxy, v, None, note)
                log(f"[{row.key}] {proxy}: {v:,.1f} {row.unit}{' ' + note if note else ''}")

    # ---- driver ----------------------------------------------------------------------------------------------
    def run(self):
        started = time.monotonic()
        log(f"work directory {self.dir}; proxies on CPU {PROXY_CPU}, origin and load tools on CPU {LOAD_CPU}")
        self.make_certs()
        self.render_configs()
        self.start_backends()
        self.detect_proxyd_tls()
        self.run_throughput()
        if "mem" in self.a.only:
            self.run_memory()
        if "cost" in self.a.only:
            self.run_cost()
        self.rawlog.close()
        elapsed = time.monotonic() - started
        report.write(self.a, self.rows, self.commands, self.notes, elapsed, self.a.build, self.load_cpu)
        log(f"done in {elapsed:.0f}s: {os.path.join(self.a.out, 'latest.md')}")


def main():
    args = parse_args()
    b = Bench(args)
    try:
        b.run()
    finally:
        procs.stop_all()
        if not args.keep:
            shutil.rmtree(b.dir, ignore_errors=True)
        else:
            log(f"kept {b.dir}")


if __name__ == "__main__":
    main()
