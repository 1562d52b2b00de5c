#!/usr/bin/env python3
# bench/lib/count_one.py: counts one proxyd binary's user-space instructions (callgrind) or system calls (strace -c
# -f) over N keep-alive "GET /size/100" requests on one connection, workers = 1, against bench/origin. Repeatable
# whatever else the machine does, so two builds compare exactly (A/B of a change).
# Usage: bench/lib/count_one.py PROXYD ORIGIN callgrind|strace N
# PX_COUNT_SERVER: more [server] lines (features to switch on, e.g. "limit_req = 100000r/s burst=1000 nodelay");
# PX_COUNT_HEADERS: more request fields, CRLF-terminated (e.g. "Authorization: Basic Ym9iOng=\r\n").
import os, re, signal, socket, subprocess, sys, tempfile, time
binary, origin, mode, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
d = tempfile.mkdtemp(prefix="pxcount-")
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
op = subprocess.Popen([origin, "-l", "127.0.0.1:0", "-w", "1", "-q"], stdout=subprocess.PIPE, text=True)
line = op.stdout.readline(); oport = int(re.search(r":(\d+)", line).group(1))
pport = free_port()
conf = f"""[global]
workers = 1
error_log = {d}/error.log
pid_file = {d}/proxyd.pid
[upstream o]
server = 127.0.0.1:{oport}
[server s]
listen = 127.0.0.1:{pport}
proxy_pass = o
""" + os.environ.get("PX_COUNT_SERVER", "").replace("\\n", "\n") + "\n"
open(d + "/p.ini", "w").write(conf)
argv = [binary, "-c", d + "/p.ini"]
if mode == "callgrind":
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + d + "/cg.out"] + argv
pp = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
for _ in range(300):
    try:
        socket.create_connection(("127.0.0.1", pport)).close(); break
    except OSError: time.sleep(0.05)
st = None
if mode == "strace":
    st = subprocess.Popen(["strace", "-c", "-f", "-p", str(pp.pid), "-o", d + "/strace.txt"], stderr=subprocess.DEVNULL)
    time.sleep(1.0)
c = socket.create_connection(("127.0.0.1", pport))
extra = os.environ.get("PX_COUNT_HEADERS", "").replace("\\r\\n", "\r\n").encode()
req = b"GET /size/100 HTTP/1.1\r\nHost: h\r\n" + extra + b"\r\n"
for i in range(n):
    c.sendall(req)
    buf = b""
    while True:
        buf += c.recv(65536)
        h = buf.find(b"\r\n\r\n")
        if h >= 0:
            cl = int(re.search(rb"[Cc]ontent-[Ll]ength: (\d+)", buf[:h]).group(1))
            if len(buf) >= h + 4 + cl: break
c.close()
if st: st.send_signal(signal.SIGINT); st.wait(); time.sleep(0.2)
pp.send_signal(signal.SIGTERM); pp.wait(); op.terminate(); op.wait()
if mode == "callgrind":
    txt = open(d + "/cg.out").read()
    m = re.search(r"^summary: (\d+)", txt, re.M) or re.search(r"^totals: (\d+)", txt, re.M)
    print(f"{binary}: {int(m.group(1))/n:.0f} instructions per request ({n} requests, incl. start and stop)")
else:
    txt = open(d + "/strace.txt").read()
    m = re.search(r"^100.00\s+\S+\s+\S+\s+(\d+)", txt, re.M)
    print(f"{binary}: {int(m.group(1))/n:.2f} system calls per request ({n} requests)")
