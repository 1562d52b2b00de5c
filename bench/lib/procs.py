# bench/lib/procs.py: starting, probing and stopping the processes of a benchmark run (origin, proxies, load tools).
# Every process is started here, pinned with taskset, logged to a file, and stopped by its own pid only.
import http.client
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import time

_started = []  # every Proc still running, so that an interrupted run leaves nothing behind


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def free_port():
    """A loopback port outside the ephemeral range that nothing listens on now (wrk's own sockets use the ephemeral range)."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free loopback port in 20000-32000")


def render(template, dest, fields):
    """Copies template to dest with every @NAME@ replaced; an unknown @NAME@ is an error, never left in place."""
    with open(template) as f:
        text = f.read()
    for k, v in fields.items():
        text = text.replace(f"@{k}@", str(v))
    left = re.findall(r"@[A-Z0-9_]+@", text)
    if left:
        raise RuntimeError(f"{template}: unfilled fields {sorted(set(left))}")
    with open(dest, "w") as f:
        f.write(text)
    return dest


class Proc:
    """One long-running process pinned to a CPU, its output in a log file."""

    def __init__(self, name, argv, cpu, logpath, stop_signal=signal.SIGTERM):
        self.name, self.argv, self.cpu, self.logpath, self.stop_signal = name, argv, cpu, logpath, stop_signal
        self.p = None

    def start(self):
        self.logf = open(self.logpath, "ab")
        cmd = ["taskset", "-c", str(self.cpu)] + self.argv
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        _started.append(self)
        return self

    @property
    def pid(self):
        return self.p.pid  # taskset execs the program: same pid

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def wait_port(self, port, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.p.returncode}; see {self.logpath}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} not listening on {port} after {timeout}s; see {self.logpath}")

    def stop(self, timeout=60):
        """Asks the process to exit (valgrind needs a normal exit to write its output); kills it after timeout."""
        if self.p is None:
            return None
        if self.p.poll() is None:
            self.p.send_signal(self.stop_signal)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} ignored {self.stop_signal!s} for {timeout}s; killing pid {self.pid}")
                self.p.kill()
                self.p.wait()
        self.logf.close()
        if self in _started:
            _started.remove(self)
        return self.p.returncode


def stop_all():
    for proc in list(reversed(_started)):
        try:
            proc.stop(timeout=20)
        except Exception as e:  # keep stopping the others
            log(f"stopping {proc.name}: {e}")


def cpu_ticks(pid):
    """(utime, stime) of the whole process (all its threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def cpu_busy(cpu):
    """(busy, total) clock ticks of one CPU since boot, from /proc/stat (idle and iowait are not busy)."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                t = [int(x) for x in line.split()[1:]]
                return sum(t) - t[3] - t[4], sum(t)
    raise RuntimeError(f"no cpu{cpu} in /proc/stat")


def rss_bytes(pid):
    """VmRSS of the process: one address space shared by all its threads."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def https_context(version=None):
    """A client context that verifies nothing; version "TLSv1.2" or "TLSv1.3" pins the protocol."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version:
        ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, version.replace(".", "_"))
    return ctx


def probe(port, path, tls, timeout=5, version=None):
    """One GET; returns (status, body length, cipher or None) or raises OSError."""
    if tls:
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=https_context(version))
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": "localhost"})
        r = c.getresponse()
        body = r.read()
        cipher = c.sock.cipher()[0] + " " + c.sock.version() if tls else None
        return r.status, len(body), cipher
    finally:
        c.close()


def run(cmd, timeout, cpu=None, env=None):
    """Runs a load tool to completion (pinned when cpu is given); returns its combined output."""
    full = (["taskset", "-c", str(cpu)] if cpu is not None else []) + cmd
    r = subprocess.run(full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, env=env)
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {r.returncode}: {out[-400:]}")
    return out
