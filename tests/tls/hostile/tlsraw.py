# tests/tls/hostile: a raw TLS 1.2 toolkit in the Python standard library: records, ClientHellos with chosen
# extensions, fragmenting, and reading back what a server answers (records, alerts, EOF) without any TLS library.
import os
import socket
import struct
import time

# Record content types.
CCS, ALERT, HANDSHAKE, APPDATA, HEARTBEAT = 20, 21, 22, 23, 24
# Handshake types.
HT_CLIENT_HELLO, HT_SERVER_HELLO, HT_CERTIFICATE, HT_SKE = 1, 2, 11, 12
HT_HELLO_DONE, HT_CKE, HT_FINISHED = 14, 16, 20
# Alert descriptions (RFC 8446 §6).
ALERTS = {0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 22: 'record_overflow',
          40: 'handshake_failure', 42: 'bad_certificate', 47: 'illegal_parameter', 50: 'decode_error',
          51: 'decrypt_error', 70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error',
          90: 'user_canceled', 109: 'missing_extension', 110: 'unsupported_extension', 112: 'unrecognized_name'}
# Extension types.
EXT_SNI, EXT_GROUPS, EXT_POINT_FORMATS, EXT_SIG_ALGS = 0, 10, 11, 13
EXT_PADDING, EXT_EMS, EXT_TICKET, EXT_RENEG_INFO = 21, 23, 35, 0xff01
# Groups and signature schemes.
X25519, P256, P384, P521, X448 = 29, 23, 24, 25, 30
SIG_DEFAULT = [0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601]
SIG_PSS_RSAE = [0x0804, 0x0805, 0x0806]
# ECDHE AEAD suites, ECDSA then RSA: what proxyd's default policy offers.
SUITES = [0xc02b, 0xc02c, 0xcca9, 0xc02f, 0xc030, 0xcca8]
SUITES_RSA = [0xc02f, 0xc030, 0xcca8]


def u8(n):
    return struct.pack('!B', n)


def u16(n):
    return struct.pack('!H', n)


def u24(n):
    return struct.pack('!I', n)[1:]


def vec8(b):
    return u8(len(b)) + b


def vec16(b):
    return u16(len(b)) + b


def record(ctype, payload, version=0x0303):
    return u8(ctype) + u16(version) + vec16(payload)


def handshake(htype, body):
    return u8(htype) + u24(len(body)) + body


def alert(level, desc, version=0x0303):
    return record(ALERT, bytes([level, desc]), version)


def ext(etype, data):
    return u16(etype) + vec16(data)


def ext_sni(name):
    entry = u8(0) + vec16(name.encode())
    return ext(EXT_SNI, vec16(entry))


def ext_groups(groups):
    return ext(EXT_GROUPS, vec16(b''.join(u16(g) for g in groups)))


def ext_point_formats(fmts=(0,)):
    return ext(EXT_POINT_FORMATS, vec8(bytes(fmts)))


def ext_sig_algs(algs):
    return ext(EXT_SIG_ALGS, vec16(b''.join(u16(a) for a in algs)))


def ext_ems():
    return ext(EXT_EMS, b'')


def ext_reneg():
    return ext(EXT_RENEG_INFO, b'\x00')


def ext_tls13(share=None):
    """supported_versions {1.3, 1.2} and an X25519 key_share (random unless share is given)."""
    key = share if share is not None else os.urandom(32)
    return [ext(43, vec8(u16(0x0304) + u16(0x0303))), ext(51, vec16(u16(X25519) + vec16(key)))]


SUITES_TLS13 = [0x1301, 0x1302, 0x1303]


def default_exts(name='a.test', groups=(X25519, P256, P384), sigs=SIG_DEFAULT, ems=True):
    exts = [ext_sni(name), ext_groups(groups), ext_point_formats(), ext_sig_algs(sigs), ext_reneg()]
    if ems:
        exts.append(ext_ems())
    return exts


def client_hello(exts=None, suites=SUITES, version=0x0303, session_id=b'', compression=b'\x00', random=None):
    """The ClientHello handshake message (header included); exts is a list of encoded extensions."""
    exts = default_exts() if exts is None else exts
    body = u16(version) + (random or os.urandom(32)) + vec8(session_id)
    body += vec16(b''.join(u16(s) for s in suites)) + vec8(compression)
    body += vec16(b''.join(exts))
    return handshake(HT_CLIENT_HELLO, body)


def fragment(ctype, payload, size, version=0x0303):
    """payload cut into records of at most size bytes."""
    return b''.join(record(ctype, payload[i:i + size], version) for i in range(0, len(payload), size))


class Conn:
    """A client socket and what came back: records as (type, version, payload) and whether EOF was seen."""

    def __init__(self, port, host='127.0.0.1', timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''
        self.records = []
        self.eof = False
        self.reset = False

    def send(self, data):
        """Sends; False when the peer already closed (EPIPE, ECONNRESET)."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.reset = True
            return False

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            self.reset = self.eof = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take(self):
        while len(self.buf) >= 5:
            n = struct.unpack('!H', self.buf[3:5])[0]
            if len(self.buf) < 5 + n:
                return
            self.records.append((self.buf[0], struct.unpack('!H', self.buf[1:3])[0], self.buf[5:5 + n]))
            self.buf = self.buf[5 + n:]

    def read_until(self, pred, timeout=5.0):
        """Reads until pred(self) holds, EOF, or timeout; returns pred(self)."""
        deadline = time.monotonic() + timeout
        while not pred(self) and not self.eof:
            if not self._fill(deadline):
                break
            self._take()
        self._take()
        return pred(self)

    def read_to_eof(self, timeout=5.0):
        return self.read_until(lambda c: c.eof, timeout)

    def handshake_msgs(self):
        """The plaintext handshake messages received so far as (type, body), reassembled across records."""
        data = b''.join(p for t, _, p in self.records if t == HANDSHAKE)
        msgs = []
        while len(data) >= 4:
            n = int.from_bytes(data[1:4], 'big')
            if len(data) < 4 + n:
                break
            msgs.append((data[0], data[4:4 + n]))
            data = data[4 + n:]
        return msgs

    def has_msg(self, htype):
        return any(t == htype for t, _ in self.handshake_msgs())

    def alerts(self):
        return [(p[0], p[1]) for t, _, p in self.records if t == ALERT and len(p) == 2]

    def close(self):
        self.sock.close()


def server_hello(conn):
    """(version, session_id, suite, extension types) of the ServerHello received, or None."""
    for t, body in conn.handshake_msgs():
        if t == HT_SERVER_HELLO:
            version = struct.unpack('!H', body[:2])[0]
            sid = body[35:35 + body[34]]
            off = 35 + body[34]
            suite = struct.unpack('!H', body[off:off + 2])[0]
            off += 3
            types = []
            if off + 2 <= len(body):
                end = off + 2 + struct.unpack('!H', body[off:off + 2])[0]
                off += 2
                while off + 4 <= end:
                    et, el = struct.unpack('!HH', body[off:off + 4])
                    types.append(et)
                    off += 4 + el
            return version, sid, suite, types
    return None


def server_hello_ext(conn, etype):
    """The data of extension etype in the ServerHello received, or None (no ServerHello, or no such extension)."""
    for t, body in conn.handshake_msgs():
        if t != HT_SERVER_HELLO or len(body) < 35 or len(body) < 35 + body[34] + 5:
            continue
        off = 35 + body[34] + 3
        end = min(len(body), off + 2 + struct.unpack('!H', body[off:off + 2])[0])
        off += 2
        while off + 4 <= end:
            et, el = struct.unpack('!HH', body[off:off + 4])
            if et == etype:
                return body[off + 4:off + 4 + el]
            off += 4 + el
    return None


def ske_scheme(conn):
    """The signature scheme of the ServerKeyExchange received (ECDHE named curve), or None."""
    for t, body in conn.handshake_msgs():
        if t == HT_SKE and len(body) >= 4 and body[0] == 3:
            off = 4 + body[3]
            return struct.unpack('!H', body[off:off + 2])[0]
    return None


def describe(conn):
    """One line on what the server sent, for failure messages and the record of a run."""
    parts = []
    for t, body in conn.handshake_msgs():
        parts.append({1: 'ClientHello', 2: 'ServerHello', 11: 'Certificate', 12: 'ServerKeyExchange',
                      14: 'ServerHelloDone', 4: 'NewSessionTicket', 20: 'Finished'}.get(t, 'hs%d' % t))
    for level, desc in conn.alerts():
        parts.append('alert(%s,%s)' % ('fatal' if level == 2 else 'warning' if level == 1 else level,
                                       ALERTS.get(desc, desc)))
    other = [t for t, _, _ in conn.records if t not in (HANDSHAKE, ALERT)]
    if other:
        parts.append('records%s' % other)
    parts.append('EOF' if conn.eof else 'no EOF')
    if conn.reset:
        parts.append('(reset)')
    if not conn.records:
        parts.insert(0, 'zero bytes')
    return ' '.join(parts)
