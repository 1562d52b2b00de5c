#!/usr/bin/env python3
# tests/pending_bodies.py: opens N client connections to proxyd, each sending a request head announcing a large
# body and then only its first KiB, and holds them; prints proxyd's resident memory per held connection (issue 10:
# memory per connection stays bounded, whatever the clients announce). Used by tests/soak.sh.
import argparse
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--count", type=int, default=10000)
    a = ap.parse_args()
    before = rss_kib(a.pid)
    head = (b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 100000000\r\n\r\n")
    socks = []
    for i in range(a.count):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.sendall(head + b"x" * 1024)
        socks.append(s)
    time.sleep(2)
    after = rss_kib(a.pid)
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            alive += s.recv(1) != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    per = (after - before) * 1024 / a.count
    print(f"pending bodies: {a.count} connections, {alive} still held, proxyd RSS {before} -> {after} KiB, "
          f"{per:,.0f} bytes per connection")
    for s in socks:
        s.close()
    return 0 if alive == a.count else 1


if __name__ == "__main__":
    sys.exit(main())
