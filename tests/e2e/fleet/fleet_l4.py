#!/usr/bin/python3
# The L4 tier (issue 18, item 5): HAProxy (Debian's 2.6) in TCP mode with send-proxy-v2 and HTTP checks of /healthz
# on each proxyd's status listener, in front of two proxyd sharing tls_ticket_key_file, in front of two origins.
#
# Usage: fleet_l4.py PROXYD ORIGIN  (meson suite 'fleet'). Everything on loopback; ports from the test port pool
# (the flock scheme of tests/support/spawn.c, so parallel tests never share one); every wait polls with a deadline.
# Shown, each as an assertion:
#   (a) a client at 127.0.0.2 (not HAProxy's 127.0.0.1) is the origin's X-Forwarded-For and the access log's client;
#   (b) a TLS session made through instance A resumes on instance B (openssl s_client -sess_out / -sess_in);
#   (d) a SIGSTOPped origin is marked down within health_interval x health_fall + health_timeout by each instance,
#       then no request waits on it (requests slower than 1 s counted by a client timing each one: zero), and after
#       SIGCONT it is back after health_rise good checks ("marked down" and "back up" once each per instance);
#   (c) `proxyd -s quit` on A (drain_delay) under a constant wrk load through HAProxy loses no request (no socket
#       error, no non-2xx), HAProxy's check sees 503 and takes A out, and A exits 0.
# The figures measured are printed at the end ("FIGURES: ...").
import ctypes
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
import pxports  # noqa: E402

PROXYD, ORIGIN = sys.argv[1], sys.argv[2]
HEALTH_INTERVAL_MS, HEALTH_TIMEOUT_MS, HEALTH_FALL, HEALTH_RISE = 1000, 500, 2, 2
DRAIN_S = 3
# How late a mark-down may be seen beyond its bound: the log is polled every 50 ms, and on a loaded 2-core machine
# the checker thread may run late by a scheduling slice or two.
MARK_DOWN_SLACK_MS = 1000
SLOW_S = 1.0

libc = ctypes.CDLL(None, use_errno=True)
failures = []
figures = {}


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


# ---------------------------------------------------------------- ports (tests/support/pxports.py)
_locks = []  # held open for the life of the process: the ports stay ours


def free_port():
    return pxports.free_port(_locks)


# ---------------------------------------------------------------- processes

procs = []


def die_with_parent():
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: a killed test leaves nothing behind


def spawn(argv, log_path):
    out = open(log_path, "ab")
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         preexec_fn=die_with_parent)
    out.close()
    procs.append(p)
    return p


def wait_for(cond, timeout, what, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def http_get(port, path, host="fleet.test", timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": host})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def status_of(port, path):
    try:
        return http_get(port, path, host="localhost", timeout=2)[0]
    except OSError:
        return None


def read(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def stop(p, sig=signal.SIGTERM, timeout=20):
    if p.poll() is None:
        p.send_signal(sig)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()


# ---------------------------------------------------------------- the tier

def proxyd_conf(d, name, o1, o2, tls_port, plain_port, status_port):
    return f"""[global]
workers = 1
error_log = {d}/{name}-error.log
log_level = info
pid_file = {d}/{name}.pid
access_log = {d}/{name}-access.log
proxy_protocol_from = 127.0.0.1
tls_ticket_key_file = {d}/ticket.key
drain_delay = {DRAIN_S}s
shutdown_timeout = 10s

[upstream origins]
server = 127.0.0.1:{o1} max_fails=3 fail_timeout=10s
server = 127.0.0.1:{o2} max_fails=3 fail_timeout=10s
health_check = GET /size/2
health_interval = {HEALTH_INTERVAL_MS}ms
health_timeout = {HEALTH_TIMEOUT_MS}ms
health_fall = {HEALTH_FALL}
health_rise = {HEALTH_RISE}

[server fleet]
listen = 127.0.0.1:{tls_port} tls proxy_protocol
listen = 127.0.0.1:{plain_port} proxy_protocol
server_name = fleet.test
tls_cert = {d}/fleet.crt
tls_key = {d}/fleet.key
proxy_pass = origins

[status]
listen = 127.0.0.1:{status_port}
"""


def haproxy_conf(p):
    def backend(name, servers):
        lines = [f"backend {name}", "    balance roundrobin", "    option httpchk",
                 "    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost",
                 "    http-check expect status 200"]
        for sname, port, status_port in servers:
            lines.append(f"    server {sname} 127.0.0.1:{port} send-proxy-v2 check port {status_port}")
        return "\n".join(lines) + "\n"

    def frontend(name, port, be):
        return f"frontend {name}\n    bind 127.0.0.1:{port}\n    default_backend {be}\n"

    a_tls, b_tls = ("a", p["a_tls"], p["a_status"]), ("b", p["b_tls"], p["b_status"])
    a_plain, b_plain = ("a", p["a_plain"], p["a_status"]), ("b", p["b_plain"], p["b_status"])
    return ("global\n    maxconn 2048\n"
            "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n"
            "    retries 3\n    option redispatch\n"
            f"    default-server inter 200ms fall 2 rise 2\n"
            + frontend("tls_in", p["h_tls"], "tls_pool") + backend("tls_pool", [a_tls, b_tls])
            + frontend("plain_in", p["h_plain"], "plain_pool") + backend("plain_pool", [a_plain, b_plain])
            + frontend("only_a", p["h_a"], "tls_a") + backend("tls_a", [a_tls])
            + frontend("only_b", p["h_b"], "tls_b") + backend("tls_b", [b_tls]))


def start(d):
    p = {k: free_port() for k in ["o1", "o2", "a_tls", "a_plain", "a_status", "b_tls", "b_plain", "b_status",
                                  "h_tls", "h_plain", "h_a", "h_b"]}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", "/CN=fleet.test", "-addext", "subjectAltName=DNS:fleet.test", "-keyout",
                    f"{d}/fleet.key", "-out", f"{d}/fleet.crt"], check=True, capture_output=True)
    fd = os.open(f"{d}/ticket.key", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, os.urandom(80))  # one nginx-format ticket key, shared by both instances
    os.close(fd)
    o = {}
    for k in ["o1", "o2"]:
        o[k] = spawn([ORIGIN, "-l", f"127.0.0.1:{p[k]}", "-w", "1", "-q"], f"{d}/{k}.log")
    x = {}
    for name in ["a", "b"]:
        conf = f"{d}/{name}.ini"
        with open(conf, "w") as f:
            f.write(proxyd_conf(d, name, p["o1"], p["o2"], p[f"{name}_tls"], p[f"{name}_plain"],
                                p[f"{name}_status"]))
        x[name] = spawn([PROXYD, "-c", conf], f"{d}/{name}-stderr.log")
    with open(f"{d}/haproxy.cfg", "w") as f:
        f.write(haproxy_conf(p))
    h = spawn(["haproxy", "-db", "-f", f"{d}/haproxy.cfg"], f"{d}/haproxy.log")
    for k in ["o1", "o2"]:
        assert wait_for(lambda: accepts(p[k]), 10, k), "origin %s did not start" % k
    for name in ["a", "b"]:
        assert wait_for(lambda: status_of(p[f"{name}_status"], "/readyz") == 200, 15, name), \
            "proxyd %s not ready: %s" % (name, read(f"{d}/{name}-error.log"))
    assert wait_for(lambda: accepts(p["h_b"]), 10, "haproxy"), "haproxy did not start: " + read(f"{d}/haproxy.log")
    assert wait_for(lambda: plain_ok(p["h_plain"]), 10, "haproxy plain"), "no answer through HAProxy"
    return p, o, x, h


def plain_ok(port):
    try:
        return http_get(port, "/size/1")[0] == 200
    except OSError:
        return False


# ---------------------------------------------------------------- (a) the client's address

def client_address(d, p):
    out = subprocess.run(["curl", "-s", "--max-time", "10", "--interface", "127.0.0.2", "-H", "Host: fleet.test",
                          f"http://127.0.0.1:{p['h_plain']}/echo?fleet-a"],
                         capture_output=True).stdout.decode(errors="replace")  # bytes: the CRs stay
    check("X-Forwarded-For: 127.0.0.2\r\n" in out, "(a) origin sees X-Forwarded-For: 127.0.0.2 (plain, via HAProxy)")
    check("X-Real-IP: 127.0.0.2\r\n" in out, "(a) origin sees X-Real-IP: 127.0.0.2")
    out = subprocess.run(["curl", "-s", "--max-time", "10", "--interface", "127.0.0.2", "--cacert", f"{d}/fleet.crt",
                          "--resolve", f"fleet.test:{p['h_tls']}:127.0.0.1",
                          f"https://fleet.test:{p['h_tls']}/echo?fleet-tls"],
                         capture_output=True).stdout.decode(errors="replace")
    check("X-Forwarded-For: 127.0.0.2\r\n" in out, "(a) origin sees X-Forwarded-For: 127.0.0.2 (TLS, via HAProxy)")

    def logged(marker):
        lines = (read(f"{d}/a-access.log") + read(f"{d}/b-access.log")).splitlines()
        return [ln for ln in lines if marker in ln]

    for marker in ["/echo?fleet-a ", "/echo?fleet-tls "]:
        wait_for(lambda: logged(marker), 5, marker)  # access logs are written at least every second
        lines = logged(marker)
        check(len(lines) == 1 and lines[0].startswith("127.0.0.2 "),
              "(a) access log names the client 127.0.0.2 for %s: %s" % (marker.strip(), lines))


# ---------------------------------------------------------------- (b) resumption across instances

def s_client(p, port, sess_arg, path):
    req = f"GET {path} HTTP/1.1\r\nHost: fleet.test\r\nConnection: close\r\n\r\n"
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "fleet.test",
                        "-ign_eof"] + sess_arg, input=req, capture_output=True, text=True, timeout=20)
    return r.stdout


def resumption(d, p):
    sess = f"{d}/session.pem"
    out = s_client(p, p["h_a"], ["-sess_out", sess], "/size/1?via-a")
    check(re.search(r"^New, ", out, re.M) is not None and "HTTP/1.1 200" in out,
          "(b) full handshake through instance A")
    out = s_client(p, p["h_b"], ["-sess_in", sess], "/size/1?via-b")
    m = re.search(r"^(New|Reused), (\S+),", out, re.M)
    check(m is not None and m.group(1) == "Reused" and "HTTP/1.1 200" in out,
          "(b) the session from A resumes on instance B (%s)" % (m.group(0) if m else "no session line"))
    figures["resumed_protocol"] = m.group(2) if m else "?"
    wait_for(lambda: "/size/1?via-a " in read(f"{d}/a-access.log") and "/size/1?via-b " in read(f"{d}/b-access.log"),
             5, "access logs")
    check("/size/1?via-a " in read(f"{d}/a-access.log") and "/size/1?via-b " in read(f"{d}/b-access.log"),
          "(b) A served the first connection, B the resumed one")


# ---------------------------------------------------------------- (d) a frozen origin

def timed_requests(port, seconds, nthreads=4):
    """Each thread sends requests on a keep-alive connection through HAProxy for `seconds`, timing each one."""
    results = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def run():
        c = None
        mine = []
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                if c is None:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request("GET", "/size/100", headers={"Host": "fleet.test"})
                r = c.getresponse()
                r.read()
                ok = r.status == 200
                if r.getheader("Connection", "").lower() == "close":
                    c.close()
                    c = None
            except (OSError, http.client.HTTPException):
                ok = False
                c = None
            mine.append((time.monotonic() - t0, ok))
            time.sleep(0.01)  # a steady client, not a load test: the test's own CPU must not be what is slow
        if c:
            c.close()
        with lock:
            results.extend(mine)

    ts = [threading.Thread(target=run) for _ in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def frozen_origin(d, p, o):
    bound_ms = HEALTH_INTERVAL_MS * HEALTH_FALL + HEALTH_TIMEOUT_MS
    needle_down = "127.0.0.1:%d (origins): marked down" % p["o1"]
    needle_up = "127.0.0.1:%d (origins): back up" % p["o1"]
    check(all(needle_down not in read(f"{d}/{n}-error.log") for n in "ab"), "(d) origin 1 is up before SIGSTOP")
    t0 = time.monotonic()
    os.kill(o["o1"].pid, signal.SIGSTOP)
    seen = {}
    deadline = t0 + 15
    while len(seen) < 2 and time.monotonic() < deadline:
        for n in "ab":
            if n not in seen and needle_down in read(f"{d}/{n}-error.log"):
                seen[n] = (time.monotonic() - t0) * 1000
        time.sleep(0.05)
    for n in "ab":
        ms = seen.get(n)
        figures[f"mark_down_ms_{n}"] = round(ms) if ms is not None else None
        check(ms is not None and ms <= bound_ms + MARK_DOWN_SLACK_MS,
              "(d) instance %s marked the frozen origin down after %s ms (bound %d ms = %d ms x %d + %d ms, "
              "+%d ms polling slack)" % (n.upper(), round(ms) if ms else "never", bound_ms, HEALTH_INTERVAL_MS,
                                         HEALTH_FALL, HEALTH_TIMEOUT_MS, MARK_DOWN_SLACK_MS))
    res = timed_requests(p["h_plain"], 3.0)
    slow = [t for t, _ in res if t > SLOW_S]
    bad = [1 for _, ok in res if not ok]
    figures["after_down_requests"] = len(res)
    figures["after_down_slow"] = len(slow)
    figures["after_down_max_ms"] = round(max(t for t, _ in res) * 1000) if res else None
    check(len(res) > 0 and not bad, "(d) %d requests while the origin is frozen, %d failed" % (len(res), len(bad)))
    check(not slow, "(d) requests slower than %.0f s once it is marked down: %d (slowest %s ms)" %
          (SLOW_S, len(slow), figures["after_down_max_ms"]))
    t1 = time.monotonic()
    os.kill(o["o1"].pid, signal.SIGCONT)
    back = wait_for(lambda: all(needle_up in read(f"{d}/{n}-error.log") for n in "ab"), 15, "back up")
    figures["back_up_ms"] = round((time.monotonic() - t1) * 1000) if back else None
    check(back, "(d) both instances log it back up after SIGCONT (%s ms)" % figures["back_up_ms"])
    for n in "ab":
        log = read(f"{d}/{n}-error.log")
        check(log.count(needle_down) == 1 and log.count(needle_up) == 1 and
              ("back up after %d good checks" % HEALTH_RISE) in log,
              "(d) instance %s logs \"marked down\" and \"back up after %d good checks\" once each" %
              (n.upper(), HEALTH_RISE))


# ---------------------------------------------------------------- (c) drain under load

def access_lines(path, needle):
    return sum(1 for ln in read(path).splitlines() if needle in ln)


def drain(d, p, x):
    wrk = subprocess.Popen(["wrk", "-t2", "-c16", "-d8s", "-H", "Host: fleet.test",
                            f"http://127.0.0.1:{p['h_plain']}/size/100?load"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, preexec_fn=die_with_parent)
    # The load reaches both instances before the quit (access logs are written at least every second).
    loaded = wait_for(lambda: access_lines(f"{d}/a-access.log", "/size/100?load") >= 50 and
                      access_lines(f"{d}/b-access.log", "/size/100?load") >= 50, 6, "load")
    check(loaded, "(c) wrk's load reaches both instances before the quit")
    t0 = time.monotonic()
    q = subprocess.run([PROXYD, "-s", "quit", "-c", f"{d}/a.ini"], capture_output=True, text=True)
    check(q.returncode == 0, "(c) proxyd -s quit on instance A: %s" % (q.stdout + q.stderr).strip())
    down = wait_for(lambda: re.search(r"Server plain_pool/a is DOWN.*503", read(f"{d}/haproxy.log")) is not None,
                    DRAIN_S + 2, "haproxy sees 503")
    figures["haproxy_down_ms"] = round((time.monotonic() - t0) * 1000) if down else None
    check(down, "(c) HAProxy's check saw 503 and took A out during the drain (%s ms after the quit)" %
          figures["haproxy_down_ms"])
    try:
        rc = x["a"].wait(DRAIN_S + 15)
    except subprocess.TimeoutExpired:
        rc = None
    figures["a_exit_ms"] = round((time.monotonic() - t0) * 1000)
    check(rc == 0, "(c) instance A exited %s, %d ms after the quit" % (rc, figures["a_exit_ms"]))
    out, _ = wrk.communicate(timeout=30)
    m = re.search(r"(\d+) requests in", out)
    figures["wrk_requests"] = int(m.group(1)) if m else None
    errs = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["wrk_socket_errors"] = errs.group(1) if errs else "none"
    figures["wrk_non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    check(wrk.returncode == 0 and m is not None and int(m.group(1)) > 0, "(c) wrk ran: %s requests" %
          figures["wrk_requests"])
    check(errs is None, "(c) wrk socket errors: %s" % figures["wrk_socket_errors"])
    check(non2xx is None, "(c) wrk non-2xx responses: %d" % figures["wrk_non_2xx"])
    print(out, flush=True)


def main():
    missing = [t for t in ["haproxy", "wrk", "curl", "openssl"] if shutil.which(t) is None]
    if missing:  # ./test.sh installs them (px_ensure_packages); a bare `meson test` without them skips
        print("skipped: not installed: %s (./test.sh installs them)" % " ".join(missing))
        return 77
    d = tempfile.mkdtemp(prefix="pxfleet-")
    keep = False
    try:
        p, o, x, h = start(d)
        client_address(d, p)
        resumption(d, p)
        frozen_origin(d, p, o)
        drain(d, p, x)
        check(stop(x["b"]) == 0, "instance B stops cleanly (exit 0)")
        for k in ["o1", "o2"]:
            stop(o[k])
        stop(h, signal.SIGUSR1)
    except Exception as e:  # a setup failure is a test failure, with what the logs say
        failures.append("exception: %r" % e)
        print("FAIL exception: %r" % e, flush=True)
    finally:
        for pr in procs:
            if pr.poll() is None:
                pr.kill()
                pr.wait()
        print("FIGURES: " + " ".join("%s=%s" % kv for kv in figures.items()), flush=True)
        if failures:
            keep = True
            for name in ["a-error.log", "b-error.log", "haproxy.log", "a-stderr.log", "b-stderr.log"]:
                print("---- %s\n%s" % (name, read(f"{d}/{name}")[-4000:]), file=sys.stderr)
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
        else:
            print("kept %s" % d, file=sys.stderr)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
