#!/usr/bin/python3
# End to end: the seed guide's nginx files and tests/tools/data/lync, translated by proxyd-import-nginx, served by
# proxyd on loopback in front of TLS test back ends; curl checks that each published path reaches the right one.
"""The back ends are small Python TLS servers that answer with what they received (their name, Host, path):
bench/origin speaks plain HTTP and does not echo Host, and the seed's upstream is https. PROXYD_BIN names proxyd."""

import http.server
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import importer_util as u  # noqa: E402
import seed_extract  # noqa: E402

# Paths the seed publishes (Lync 2013 external web services, simple URLs, mobility, Office Web Apps' discovery).
LYNC_PATHS = ["/ucwa/oauth/v1/applications", "/autodiscover/autodiscoverservice.svc/root?originalDomain=x",
              "/meet/alice/ABC123", "/dialin/", "/abs/handler/Default.aspx", "/webticket/webticketservice.svc",
              "/reach/client/WebPages/ReachJoin.aspx", "/CertProv/CertProvisioningService.svc",
              "/mcx/mcxservice.svc", "/lwa/WebPages/LwaClient.aspx", "/GroupExpansion/service.svc"]


class Echo(http.server.BaseHTTPRequestHandler):
    """Answers every request with JSON naming the back end, the Host it got and the path; /moved gives IIS's
    redirect to the public name with the internal port (proxy_redirect's case)."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "https://%s:4443/moved-here" % self.headers.get("Host", ""))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"backend": self.server.name, "host": self.headers.get("Host"), "path": self.path,
                           "xff": self.headers.get("X-Forwarded-For")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_backend(name, port, cert, key):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Echo)
    srv.daemon_threads = True
    srv.name = name
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def wait_port(port, proc, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            raise AssertionError("proxyd exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("proxyd does not listen on %d" % port)


class Edge(unittest.TestCase):
    """One translated configuration served by proxyd."""

    def setUp(self):
        if not u.proxyd():
            self.skipTest("PROXYD_BIN unset")
        self.dir = u.tmpdir()
        self.backends, self.proc = [], None
        u.make_ca(self.dir)
        self.ca = os.path.join(self.dir, "ca.pem")
        self.bcert, self.bkey = os.path.join(self.dir, "backend.pem"), os.path.join(self.dir, "backend.key")
        # mbedTLS 2.28 matches the verified name against DNS names only: 127.0.0.1 is also listed as one
        u.make_cert(self.dir, self.bcert, self.bkey, ["lyncpool.contoso.local", "127.0.0.1"], ["127.0.0.1"])

    def tearDown(self):
        for b in self.backends:
            b.shutdown()
            b.server_close()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(30)
            with open(os.path.join(self.dir, "proxyd.err"), errors="replace") as f:
                log = f.read()
            self.assertEqual(rc, 0, "proxyd's exit status at SIGTERM\n" + log)
        shutil.rmtree(self.dir, ignore_errors=True)

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return "(no error log)"

    def backend(self, name):
        port = u.free_port()
        self.backends.append(start_backend(name, port, self.bcert, self.bkey))
        return port

    def serve(self, conf, site_cert, names):
        """Imports conf (--cert-dir, --tls-ca), checks it with -t and starts proxyd on it."""
        u.make_cert(self.dir, os.path.join(self.dir, site_cert[0]), os.path.join(self.dir, site_cert[1]), names)
        rc, out, err = u.run_importer(["--cert-dir", self.dir, "--tls-ca", self.ca, conf])
        self.assertEqual(rc, 0, err)
        out = re.sub(r"(?m)^user = .*\n", "", out)
        out = re.sub(r"(?m)^((?:error|access)_log = )/var/log/nginx/", r"\g<1>" + self.dir + "/", out)
        out = out.replace("[global]\n", "[global]\npid_file = %s/proxyd.pid\n" % self.dir, 1)
        path = os.path.join(self.dir, "proxyd.ini")
        with open(path, "w") as f:
            f.write(out)
        rc, err = u.check_config(path)
        self.assertEqual(rc, 0, err + out)
        with open(os.path.join(self.dir, "proxyd.err"), "w") as err_file:
            self.proc = subprocess.Popen([u.proxyd(), "-c", path], stdout=subprocess.DEVNULL, stderr=err_file)
        return out

    def curl(self, url, name, port):
        """(status, headers text, body) of curl on url, name resolved to loopback."""
        p = subprocess.run(["curl", "-sS", "-D", "-", "--cacert", os.path.join(self.dir, "ca.pem"), "--resolve",
                            "%s:%d:127.0.0.1" % (name, port), url], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        text = p.stdout.decode("utf-8", "replace")
        head, _, body = text.partition("\r\n\r\n")
        return int(head.split()[1]), head, body

    def routes(self, port, names, paths, expect):
        """Every name and path over TLS reaches a back end of expect(name) with its Host and path unchanged."""
        for name in names:
            for path in paths:
                status, head, body = self.curl("https://%s:%d%s" % (name, port, path), name, port)
                self.assertEqual(status, 200, "%s%s: %s\n%s" % (name, path, head, self.error_log()))
                got = json.loads(body)
                self.assertIn(got["backend"], expect(name), "%s%s went to %s" % (name, path, got["backend"]))
                self.assertEqual(got["host"], name, "Host not kept for %s%s" % (name, path))
                self.assertEqual(got["path"], path)
                self.assertEqual(got["xff"], "127.0.0.1")

    def redirects(self, port, names):
        for name in names:
            status, head, _ = self.curl("http://%s:%d/meet/alice/X?a=1" % (name, port), name, port)
            self.assertEqual(status, 301)
            self.assertRegex(head, r"(?mi)^location: https://%s/meet/alice/X\?a=1\r?$" % re.escape(name))


class SeedEdge(Edge):
    def test_seed_serves_the_guide_layout(self):
        if not seed_extract.seed_path():
            self.skipTest("the seed guide (../shared/seed/) is not here")
        folder = os.path.join(self.dir, "nginx")
        conf = seed_extract.extract(folder)
        p443, p80, fe = u.free_port(), u.free_port(), self.backend("fe")
        site = os.path.join(folder, "sites-enabled", "lync")
        with open(site) as f:
            text = f.read()
        text = text.replace("listen 443;", "listen 127.0.0.1:%d;" % p443).replace("listen 80;",
                                                                                  "listen 127.0.0.1:%d;" % p80)
        text = text.replace("your-lync-server.DOMAIN.local:4443", "127.0.0.1:%d" % fe)
        with open(site, "w") as f:
            f.write(text)
        names = ["webext.yourdomain.com", "meet.yourdomain.com", "dialin.yourdomain.com",
                 "lyncdiscover.yourdomain.com", "owa.yourdomain.com"]
        out = self.serve(conf, ("webext.yourdomain.com_BUNDLED.pem", "webext.yourdomain.com.key"), names)
        self.assertIn("tls_verify = on", out)
        wait_port(p443, self.proc)
        self.routes(p443, names, LYNC_PATHS, lambda name: {"fe"})
        self.redirects(p80, names)
        _, head, _ = self.curl("https://meet.yourdomain.com:%d/dialin/" % p443, "meet.yourdomain.com", p443)
        self.assertRegex(head, r"(?mi)^strict-transport-security: max-age=63072000")


class LyncEdge(Edge):
    def test_lync_edge_routes_each_name(self):
        src = os.path.join(u.DATA, "lync", "nginx.conf")
        p443, p80 = u.free_port(), u.free_port()
        fe1, fe2, owa = self.backend("fe1"), self.backend("fe2"), self.backend("owa")
        with open(src) as f:
            text = f.read()
        text = text.replace("listen 443 ", "listen 127.0.0.1:%d " % p443).replace("listen 80;",
                                                                                  "listen 127.0.0.1:%d;" % p80)
        text = text.replace("fe1.contoso.local:4443", "127.0.0.1:%d" % fe1)
        text = text.replace("fe2.contoso.local:4443", "127.0.0.1:%d" % fe2)
        text = text.replace("owa1.contoso.local:443", "127.0.0.1:%d" % owa)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(text)
        # one SAN certificate for every name (the importer gives both servers their own files: same content)
        names = ["webext.contoso.com", "meet.contoso.com", "dialin.contoso.com", "lyncdiscover.contoso.com",
                 "owa.contoso.com"]
        u.make_cert(self.dir, os.path.join(self.dir, "owa.contoso.com.pem"),
                    os.path.join(self.dir, "owa.contoso.com.key"), ["owa.contoso.com"])
        shutil.copy(self.ca, os.path.join(self.dir, "contoso-ca.pem"))
        out = self.serve(conf, ("lync-san.contoso.com.pem", "lync-san.contoso.com.key"), names[:4])
        self.assertIn("route = /ucwa/ https://lync_fe read_timeout=1800s", out)
        wait_port(p443, self.proc)
        self.routes(p443, names, LYNC_PATHS,
                    lambda name: {"owa"} if name.startswith("owa.") else {"fe1", "fe2"})
        self.redirects(p80, names)
        status, head, _ = self.curl("https://meet.contoso.com:%d/moved" % p443, "meet.contoso.com", p443)
        self.assertEqual(status, 302)
        self.assertRegex(head, r"(?mi)^location: https://meet\.contoso\.com/moved-here\r?$")


if __name__ == "__main__":
    unittest.main(verbosity=2)
