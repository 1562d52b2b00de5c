# tests/support/pxports.py: the test port pool for the Python tests, kept as tests/support/spawn.c keeps it for the
# C ones (TS_PORT_MIN, TS_PORT_LOCK_DIR in support.h): one lock file per port, flock'ed for the life of the process.
import fcntl
import os
import socket

PORT_MIN = 20000
PORT_LOCK_DIR = "/tmp/proxyd-test-ports"


def port_pool():
    """From PORT_MIN to just below the kernel's ephemeral range (else above it), as spawn.c's ts_port_range."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            elo, ehi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        elo, ehi = 32768, 60999
    if elo - PORT_MIN >= 1000:
        return PORT_MIN, elo - 1
    if 65535 - ehi >= 1000:
        return ehi + 1, 65535
    return PORT_MIN, 65535


def free_port(held):
    """A port of the shared pool that binds now, its lock file's descriptor appended to held (keep it open: the
    port stays this process's)."""
    lo, hi = port_pool()
    try:
        os.mkdir(PORT_LOCK_DIR, 0o1777)
        os.chmod(PORT_LOCK_DIR, 0o1777)  # sticky and shared: mkdir's mode went through the umask
    except FileExistsError:
        pass
    span = hi - lo + 1
    start = (os.getpid() * 2654435761 + len(held) * 7919) % span
    for i in range(span):
        port = lo + (start + i) % span
        try:
            fd = os.open("%s/%d" % (PORT_LOCK_DIR, port), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            ok = True
        except OSError:
            ok = False
        s.close()
        if ok:
            held.append(fd)
            return port
        os.close(fd)
    raise RuntimeError("no free test port")
