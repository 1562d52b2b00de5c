# Helpers of the importer's tests: where the importer and proxyd are, running them, test certificates, and free
# ports from the same flock pool as tests/support (so no parallel test takes the same port).
"""Shared by test_importer.py and test_importer_e2e.py."""

import atexit
import fcntl
import os
import re
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
SOURCE_IMPORTER = os.path.join(HERE, "..", "..", "tools", "proxyd-import-nginx")
PORT_LOCK_DIR = "/tmp/proxyd-test-ports"  # tests/support/support.h TS_PORT_LOCK_DIR
PORT_MIN = 20000  # TS_PORT_MIN
_held = []  # lock files of the ports this process took: held until exit
atexit.register(lambda: [f.close() for f in _held])


def importer():
    """The importer meson built (configure_file, with the version), else the source one."""
    return os.environ.get("PROXYD_IMPORTER") or SOURCE_IMPORTER


def run_importer(args, cwd=None, timeout=120):
    """(exit status, stdout, stderr) of the importer with args; output decoded leniently."""
    p = subprocess.run(["/usr/bin/python3", importer()] + args, cwd=cwd, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def proxyd():
    return os.environ.get("PROXYD_BIN")


def check_config(path):
    """(exit status, stderr) of proxyd -t -c path."""
    p = subprocess.run([proxyd(), "-t", "-c", path], capture_output=True, timeout=60)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def make_ca(folder):
    """A test CA (ca.pem, ca.key) in folder."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=importer test CA", "-keyout", os.path.join(folder, "ca.key"), "-out",
                    os.path.join(folder, "ca.pem")], check=True, capture_output=True)


def make_cert(folder, cert, key, names, ips=()):
    """A certificate signed by folder's CA, for DNS names and IP addresses, written to cert and key."""
    san = ",".join(["DNS:" + n for n in names] + ["IP:" + i for i in ips])
    ext = os.path.join(folder, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % san)
    csr = os.path.join(folder, "req.csr")
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + (names or ips)[0],
                    "-keyout", key, "-out", csr], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(folder, "ca.pem"), "-CAkey",
                    os.path.join(folder, "ca.key"), "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)


def _pool():
    lo, hi = 32768, 60999
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = map(int, f.read().split())
    except (OSError, ValueError):
        pass
    if lo - PORT_MIN >= 1000:
        return PORT_MIN, lo - 1
    if 65535 - hi >= 1000:
        return hi + 1, 65535
    return PORT_MIN, 65535


def free_port():
    """A port of the pool no other test holds and nothing listens on; held until this process exits."""
    import socket
    lo, hi = _pool()
    os.makedirs(PORT_LOCK_DIR, mode=0o1777, exist_ok=True)
    span = hi - lo + 1
    start = (os.getpid() * 2654435761 + len(_held) * 7919) % span
    for i in range(span):
        port = lo + (start + i) % span
        f = open(os.path.join(PORT_LOCK_DIR, str(port)), "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            f.close()
            continue
        finally:
            s.close()
        _held.append(f)
        return port
    raise RuntimeError("no free port in %d-%d" % (lo, hi))


def tmpdir():
    return tempfile.mkdtemp(prefix="px-importer-")


def ini_lines_ok(text):
    """Why text is not shaped like proxyd INI (None when it is): sections, keys, comments, continuations."""
    for n, line in enumerate(text.split("\n"), 1):
        if len(line) > 198:
            return "line %d longer than 198 characters" % n
        if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", line):
            return "line %d holds a control byte" % n
        if line and not re.match(r"(;|\[[^\]\n]+\]$|[a-z_]+ = \S|    \S)", line):
            return "line %d is not a section, key, comment or continuation: %r" % (n, line)
    return None
