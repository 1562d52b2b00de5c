# tests/tls/hostile/lost_wakeup.py: a client whose last handshake flight carries its first request, read by proxyd
# during a wake-up that epoll reported as "writable" only; the request must be answered, not wait for a timeout.
"""Usage: lost_wakeup.py [ROUNDS]

proxyd's TLS handshake reads the socket whatever the stream's ready_read says, and libtlsio's read-ahead takes the
client's first request along with its Finished. epoll reports a socket's state when epoll_wait runs: bytes that
arrive after it found the socket writable only, and that the handshake reads before the wake-up ends, never get
their EPOLLIN. Before the fix the request then sat in libtlsio until client_header_timeout (issue 16's bench
"stall"). The order of events is forced, not hoped for: proxyd handles one event after another on one worker, and
an RSA-4096 signature (~15 ms) is what keeps it busy while the next bytes arrive:

1. client A sends its ClientHello; as soon as A's ServerHello arrives (proxyd is about to sign for A), clients C1-C3
   send their ClientHellos and then A sends a ChangeCipherSpec (RFC 8446 D.4: dropped by the server). The CCS
   arrives after A's event was fetched, and A's handshake reads it before going back to epoll: A stays queued with
   a stale edge, behind C1-C3;
2. proxyd's next epoll_wait fetches C1-C3 and A, A as writable only (the CCS is gone); A finishes reading its
   server's flight, waits a moment (that epoll_wait has run) and sends Finished + GET in one segment;
3. proxyd signs for C1-C3 (~45 ms) while A's bytes arrive, then runs A's event: the handshake reads Finished and
   the request. Fixed: the request is answered at once. Broken: nothing more happens until the header timeout.

Each round uses fresh connections; the test passes when every round's response comes within RESPONSE_S seconds
(client_header_timeout is 60 s: a generous bound on completion, not a speed check). Exit 0 pass, 1 fail."""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile as H  # noqa: E402  (free_port, wait_port: the shared port pool and start-up wait)

SLOW = 3  # clients whose RSA-4096 signatures keep proxyd busy while A's last flight arrives (~15 ms each)
RESPONSE_S = 10.0
CCS = b'\x14\x03\x03\x00\x01\x01'

CONF = """[global]
workers = 1
error_log = {d}/error.log
log_level = info
pid_file = {d}/proxyd.pid
client_header_timeout = 60s
[upstream o]
server = 127.0.0.1:{origin}
[server a]
listen = 127.0.0.1:{port} tls default
tls_cert = {d}/rsa.crt
tls_key = {d}/rsa.key
proxy_pass = o
"""


class Client:
    """A TLS 1.3 client over a memory BIO: its bytes go out exactly when and as the test says."""

    def __init__(self, port):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.options &= ~ssl.OP_ENABLE_MIDDLEBOX_COMPAT  # the one CCS is the test's own
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_hostname='a.test')
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=RESPONSE_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.got = b''

    def step(self):
        """Runs the handshake as far as the input allows; True once done."""
        try:
            self.tls.do_handshake()
            return True
        except ssl.SSLWantReadError:
            return False

    def pending_out(self):
        return self.out.read()

    def hello(self):
        self.step()
        return self.pending_out()

    def recv_some(self):
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError('proxyd closed the connection')
        self.got += data
        self.inc.write(data)

    def has_server_hello(self):
        return len(self.got) >= 6 and self.got[0] == 22 and self.got[5] == 2


def start(d, port):
    origin = subprocess.Popen([os.environ['PROXYD_ORIGIN'], '-l', '127.0.0.1:0', '-w', '1', '-q'],
                              stdout=subprocess.PIPE, text=True)
    oport = int(origin.stdout.readline().rsplit(':', 1)[1])  # "origin: listening on 127.0.0.1:PORT"
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:4096', '-nodes', '-days', '2', '-subj', '/CN=a.test',
                    '-keyout', d + '/rsa.key', '-out', d + '/rsa.crt'], check=True, capture_output=True)
    with open(d + '/proxyd.ini', 'w') as f:
        f.write(CONF.format(d=d, port=port, origin=oport))
    proxyd = subprocess.Popen([os.environ['PROXYD_BIN'], '-c', d + '/proxyd.ini'], stdout=subprocess.DEVNULL)
    H.wait_port(port, proxyd, 'proxyd')
    return origin, proxyd


def one_round(port):
    """One forced sequence; returns the seconds until A's response began, or None when none came."""
    a = Client(port)
    slow = [Client(port) for _ in range(SLOW)]
    time.sleep(0.2)  # proxyd accepts them all and waits for their first bytes
    slow_hellos = [c.hello() for c in slow]
    a.sock.sendall(a.hello())
    while not a.has_server_hello():
        a.recv_some()
    for c, hello in zip(slow, slow_hellos):  # step 1: queued ahead of A's next event
        c.sock.sendall(hello)
    a.sock.sendall(CCS)
    while not a.step():  # step 2: the rest of A's server flight
        a.recv_some()
    time.sleep(0.005)
    a.tls.write(b'GET /size/5 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n')
    a.sock.sendall(a.pending_out())  # Finished and the request: one write, one segment
    t0 = time.monotonic()
    try:
        while True:
            try:
                data = a.tls.read(65536)
                if data:
                    return time.monotonic() - t0
            except ssl.SSLWantReadError:
                pass
            a.recv_some()
    except (socket.timeout, RuntimeError, ssl.SSLError):
        return None
    finally:
        for c in slow + [a]:
            c.sock.close()


def main(argv):
    rounds = int(argv[0]) if argv else 5
    held = []
    port = H.free_port(held)
    d = tempfile.mkdtemp(prefix='tls-wakeup-')
    procs = start(d, port)
    failed = 0
    try:
        for i in range(rounds):
            took = one_round(port)
            if took is None:
                failed += 1
                print('FAIL round %d: no response within %.0f s (the request waits in proxyd)' % (i + 1, RESPONSE_S))
            else:
                print('PASS round %d: response after %.3f s' % (i + 1, took))
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=15)
        subprocess.run(['rm', '-rf', d])
    print('%d of %d rounds failed' % (failed, rounds))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
