#!/usr/bin/env python3
# bench/lib/idle_conns.py: opens N keep-alive connections (plain or TLS), does one request on each, then holds them idle.
# Talks to bench/run over stdin/stdout: prints "open N", answers "check" with "alive M", exits on "quit" or EOF.
import argparse
import select
import socket
import ssl
import sys


def read_response(sock):
    """Reads one HTTP/1.1 response with a Content-Length body; returns the status code."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the response body")
        body += chunk
    return status


def open_one(port, path, ctx):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if ctx is not None:
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    status = read_response(sock)
    if status != 200:
        raise ConnectionError(f"status {status}")
    return sock


def count_alive(socks):
    """A connection is alive when the peer has sent nothing since: no FIN, no reset, no TLS alert."""
    poller = select.poll()
    for s in socks:
        poller.register(s.fileno(), select.POLLIN | select.POLLRDHUP | select.POLLERR | select.POLLHUP)
    ready = {fd for fd, _ in poller.poll(0)}
    return sum(1 for s in socks if s.fileno() not in ready)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--tls", choices=["1.2", "1.3"], help="TLS version (default: plain)")
    ap.add_argument("--path", default="/size/100")
    args = ap.parse_args()

    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        v = ssl.TLSVersion.TLSv1_2 if args.tls == "1.2" else ssl.TLSVersion.TLSv1_3
        ctx.minimum_version = ctx.maximum_version = v
    socks = []
    try:
        for _ in range(args.count):
            socks.append(open_one(args.port, args.path, ctx))
    except (OSError, ValueError) as e:
        print(f"error after {len(socks)} connections: {e}", flush=True)
        return 1
    print(f"open {len(socks)}", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "check":
            print(f"alive {count_alive(socks)}", flush=True)
        elif cmd == "quit":
            break
    for s in socks:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
