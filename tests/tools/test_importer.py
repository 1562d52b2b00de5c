#!/usr/bin/python3
# Tests of tools/proxyd-import-nginx without a running proxyd: the tokenizer, syntax errors with file:line,
# includes (globs, cycles, depth), hostile input, exit statuses, and golden outputs that `proxyd -t` accepts.
"""Run by meson (suite importer) as /usr/bin/python3 test_importer.py; PROXYD_BIN names proxyd for the -t checks.
PROXYD_UPDATE_GOLDEN=1 rewrites the expected files instead of comparing (then review the diff)."""

import importlib.machinery
import importlib.util
import os
import random
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import importer_util as u  # noqa: E402
import seed_extract  # noqa: E402


def load_module():
    loader = importlib.machinery.SourceFileLoader("importer_mod", u.importer())
    spec = importlib.util.spec_from_loader("importer_mod", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


M = load_module()


def write(folder, name, text, mode="w"):
    path = os.path.join(folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)
    return path


class Tokenizer(unittest.TestCase):
    def words(self, text):
        return [(k, v) for k, v, _ in M.tokenize(text, "t.conf")]

    def test_quotes_escapes_variables(self):
        toks = self.words('a "b\\"c" \'d e\' f\\ g ${x}y "t\\tn\\\\" x#y; # comment { ; }\n')
        self.assertEqual(toks, [("word", "a"), ("word", 'b"c'), ("word", "d e"), ("word", "f\\ g"),
                                ("word", "${x}y"), ("word", "t\tn\\"), ("word", "x#y"), (";", ";")])

    def test_braces_end_words(self):
        self.assertEqual(self.words("a{b}c;"), [("word", "a"), ("{", "{"), ("word", "b"), ("}", "}"),
                                                ("word", "c"), (";", ";")])

    def test_lines_counted_through_quotes_and_comments(self):
        lines = [line for _, _, line in M.tokenize('a\n"b\nc"\n# x\nd;', "t.conf")]
        self.assertEqual(lines, [1, 2, 5, 5])

    def test_errors(self):
        for text, line, msg in [('a "bc;\n\n', 1, "unterminated quoted string"),
                                ("a\n'bc;", 2, "unterminated quoted string"),
                                ('a "b"c;', 1, 'unexpected "c" after a quoted string'),
                                ("a ${b;", 1, "unterminated ${"),
                                ("a \\", 1, "unexpected end of file after a backslash")]:
            with self.assertRaises(M.ConfSyntaxError) as cm:
                list(M.tokenize(text, "t.conf"))
            self.assertIn("t.conf:%d: %s" % (line, msg), str(cm.exception))

    def test_values(self):
        self.assertEqual(M.duration("1m30s"), "90s")
        self.assertEqual(M.duration("500ms"), "500ms")
        self.assertEqual(M.duration("1d"), "86400s")
        self.assertEqual(M.duration("60"), "60s")
        self.assertIsNone(M.duration("fast"))
        self.assertEqual(M.size("10M"), "10m")
        self.assertEqual(M.unknown_vars("$host ${scheme} $cookie_a $http_upgrade"), ["cookie_a", "http_upgrade"])


class Syntax(unittest.TestCase):
    """Syntax errors: exit 1 and FILE:LINE on stderr, nothing on stdout."""

    def setUp(self):
        self.dir = u.tmpdir()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def fails(self, text, expect, name="nginx.conf", extra=()):
        for n, t in extra:
            write(self.dir, n, t)
        write(self.dir, name, text)
        rc, out, err = u.run_importer([os.path.join(self.dir, name)])
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, "")
        self.assertIn(expect, err)
        self.assertNotIn("Traceback", err)

    def test_unbalanced(self):
        self.fails("http {\n  server {\n    listen 80;\n  }\n", 'nginx.conf:4: unexpected end of file, expecting "}"')
        self.fails("http {\n}\n}\n", 'nginx.conf:3: unexpected "}"')
        self.fails("http {\n  listen 80\n}\n", 'nginx.conf:3: unexpected "}"')
        self.fails("events {}\nuser x", 'nginx.conf:2: unexpected end of file, expecting ";" or "}"')
        self.fails("http {\n ;\n}", 'nginx.conf:2: unexpected ";"')
        self.fails("{ }", 'nginx.conf:1: unexpected "{"')

    def test_unterminated_quote(self):
        self.fails('http {\n  add_header X "abc;\n}\n', 'nginx.conf:2: unterminated quoted string')

    def test_include_cycle(self):
        self.fails("include a.conf;\n", "b.conf:2: include cycle: a.conf -> b.conf -> a.conf",
                   extra=[("a.conf", "# a\ninclude b.conf;\n"), ("b.conf", "# b\ninclude a.conf;\n")])

    def test_include_self_by_glob(self):
        self.fails("http {\n include *.conf;\n}\n", "nginx.conf:2: include cycle: nginx.conf -> nginx.conf")

    def test_include_depth(self):
        extra = [("f%d.conf" % i, "include f%d.conf;\n" % (i + 1)) for i in range(40)]
        self.fails("include f0.conf;\n", "includes nested deeper than 16 files", extra=extra)

    def test_error_in_included_file_names_it(self):
        self.fails("http {\n include sub/*.conf;\n}\n", "sub/x.conf:3: unexpected", extra=[
            ("sub/x.conf", "server {\n listen 80;\n}}\n")])


class Hostile(unittest.TestCase):
    def setUp(self):
        self.dir = u.tmpdir()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_binary_garbage(self):
        """Random bytes: a translation (0) or a syntax error with file:line (1), never a crash; any output is
        shaped like proxyd INI (no control byte, no line proxyd would misread)."""
        rng = random.Random(19)
        alphabet = bytes(range(256)) + b"{};\"'\\$ \n#" * 8 + b"server listen location proxy_pass http " * 4
        for i in range(60):
            data = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 4096)))
            path = write(self.dir, "g%d.conf" % i, data, "wb")
            rc, out, err = u.run_importer([path])
            self.assertIn(rc, (0, 1), err)
            self.assertNotIn("Traceback", err)
            if rc == 1:
                self.assertRegex(err, r"g%d\.conf:\d+: " % i)
            else:
                self.assertIsNone(u.ini_lines_ok(out), out)

    def test_structured_garbage(self):
        """Valid syntax, absurd content: every directive reported or translated, output shaped like INI."""
        rng = random.Random(13)
        names = ["server", "listen", "location", "proxy_pass", "return", "add_header", "proxy_set_header",
                 "upstream", "http", "gzip", "if", "map", "allow", "limit_req", "ssl_certificate", "root"]
        args = ["80", "ssl", "/", "http://a", "https://$x", "301", "\x01", "'a ;b'", "\"x\ny\"", "on", "=", "~",
                "a b", "\xff", "all", "zone=z", "$host"]

        def block(depth):
            out = []
            for _ in range(rng.randrange(1, 6)):
                words = " ".join(rng.choice(args) for _ in range(rng.randrange(0, 4)))
                if depth < 4 and rng.random() < 0.4:
                    out.append("%s %s {\n%s\n}" % (rng.choice(names), words, block(depth + 1)))
                else:
                    out.append("%s %s;" % (rng.choice(names), words))
            return "\n".join(out)
        for i in range(40):
            path = write(self.dir, "s%d.conf" % i, block(0))
            rc, out, err = u.run_importer([path])
            self.assertIn(rc, (0, 1), err)
            self.assertNotIn("Traceback", err)
            if rc == 0:
                self.assertIsNone(u.ini_lines_ok(out), out)

    def test_nul_bytes_and_invalid_utf8(self):
        path = write(self.dir, "n.conf", b"http {\n server {\n  listen 80;\n  server_name a\x00b \xff\xfe.example;\n"
                     b"  return 204;\n }\n}\n", "wb")
        rc, out, err = u.run_importer([path])
        self.assertEqual(rc, 0, err)
        self.assertIsNone(u.ini_lines_ok(out), out)
        self.assertIn("return = 204", out)
        self.assertIn('n.conf:4: directive "server_name" not translated', err)

    def test_100k_lines(self):
        lines = ["http {"] + ["    # comment %d" % i if i % 2 else "    sendfile on;" for i in range(100000)]
        lines += ["    server {", "        listen 8080;", "        return 204;", "    }", "}"]
        path = write(self.dir, "big.conf", "\n".join(lines) + "\n")
        rc, out, err = u.run_importer([path])
        self.assertEqual(rc, 0, err)
        self.assertIn("; big.conf:100004: return 204;\nreturn = 204", out)

    def test_deep_nesting(self):
        path = write(self.dir, "deep.conf", "a {" * 50000 + "}" * 50000 + "\n")
        rc, out, err = u.run_importer([path])
        self.assertEqual(rc, 0, err)
        self.assertIn('deep.conf:1: directive "a" not translated', err)


class Root(unittest.TestCase):
    def test_absolute_includes_under_root(self):
        """--root reads a copy of another machine's /etc/nginx: absolute includes resolve inside it, and the
        comments name the files relative to the main file's folder."""
        d = u.tmpdir()
        try:
            conf = write(d, "etc/nginx/nginx.conf", "http {\n include /etc/nginx/sites-enabled/*;\n}\n")
            write(d, "etc/nginx/sites-enabled/site", "server {\n listen 8080;\n return 204;\n}\n")
            rc, out, err = u.run_importer(["--root", d, conf])
            self.assertEqual(rc, 0, err)
            self.assertIn("; sites-enabled/site:2: listen 8080;\nlisten = 0.0.0.0:8080", out)
            rc, out, err = u.run_importer(["--root=" + d, conf])
            self.assertIn("return = 204", out)
            rc, out, err = u.run_importer([conf])  # without --root: this machine's /etc/nginx, if any
            self.assertNotIn("return = 204", out)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class Usage(unittest.TestCase):
    def test_statuses(self):
        d = u.tmpdir()
        try:
            self.assertEqual(u.run_importer([])[0], 2)
            self.assertEqual(u.run_importer(["--nope", "x"])[0], 2)
            self.assertEqual(u.run_importer(["a", "b"])[0], 2)
            rc, _, err = u.run_importer([os.path.join(d, "missing.conf")])
            self.assertEqual(rc, 2)
            self.assertIn("No such file", err)
            self.assertEqual(u.run_importer([d])[0], 2)
            rc, out, _ = u.run_importer(["--help"])
            self.assertEqual(rc, 0)
            self.assertIn("usage: proxyd-import-nginx", out)
            rc, out, _ = u.run_importer(["--version"])
            self.assertEqual(rc, 0)
            want = os.environ.get("PROXYD_VERSION")
            self.assertRegex(out, r"^proxyd-import-nginx \S+")
            if want and os.environ.get("PROXYD_IMPORTER"):
                self.assertEqual(out.strip(), "proxyd-import-nginx " + want)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_missing_include_is_a_warning(self):
        d = u.tmpdir()
        try:
            path = write(d, "nginx.conf", "http {\n include mime.types;\n server { listen 80; return 204; }\n}\n")
            rc, out, err = u.run_importer([path])
            self.assertEqual(rc, 0)
            self.assertIn('nginx.conf:2: directive "include" not translated: cannot read mime.types', err)
            self.assertIn("; nginx.conf:2: include mime.types; -- NOT TRANSLATED", out)
        finally:
            shutil.rmtree(d, ignore_errors=True)


def golden(case, out, err):
    """Compares with (or, with PROXYD_UPDATE_GOLDEN=1, writes) DATA/CASE.expected.ini and .err."""
    results = []
    for ext, text in (("ini", out), ("err", err)):
        path = os.path.join(u.DATA, "%s.expected.%s" % (case, ext))
        if os.environ.get("PROXYD_UPDATE_GOLDEN"):
            with open(path, "w") as f:
                f.write(text)
        with open(path) as f:
            results.append((f.read(), text, path))
    return results


class Golden(unittest.TestCase):
    """Each configuration's translation is checked in: any change of the output is a visible diff. Then the
    output, pointed at test certificates and a scratch folder, passes proxyd -t."""

    def setUp(self):
        self.dir = u.tmpdir()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def compare(self, case, conf, cwd):
        rc, out, err = u.run_importer([conf], cwd=cwd)
        self.assertEqual(rc, 0, err)
        for want, got, path in golden(case, out, err):
            self.assertEqual(got, want, "differs from %s (PROXYD_UPDATE_GOLDEN=1 rewrites it)" % path)
        self.assertIsNone(u.ini_lines_ok(out))
        return out

    def certs(self, names):
        """NAME (NAME.pem and NAME.key) or (certificate file, key file) pairs, made in the scratch folder."""
        for n in names:
            cert, key = (n + ".pem", n + ".key") if isinstance(n, str) else n
            u.make_cert(self.dir, os.path.join(self.dir, cert), os.path.join(self.dir, key), ["test.example"])

    def check(self, conf, extra_args, certs, expect_warnings=()):
        """proxyd -t on the translation with --cert-dir, logs, pid file and user pointed at the scratch folder."""
        u.make_ca(self.dir)
        self.certs(certs)
        rc, out, err = u.run_importer(["--cert-dir", self.dir] + extra_args + [conf])
        self.assertEqual(rc, 0, err)
        out = localise(out, self.dir)
        path = write(self.dir, "proxyd.ini", out)
        if u.proxyd() is None:
            self.skipTest("PROXYD_BIN unset")
        rc, err = u.check_config(path)
        self.assertEqual(rc, 0, err + out)
        warnings = [line for line in err.split("\n") if "warning" in line]
        for w in warnings:
            self.assertTrue(any(x in w for x in expect_warnings), "unexpected warning from proxyd -t: " + w)

    def test_full(self):
        self.compare("full", "full/nginx.conf", u.DATA)
        self.check(os.path.join(u.DATA, "full", "nginx.conf"), [], ["example", "example-ecdsa", "internal-ca"],
                   ["an HTTPS port"])

    def test_lync(self):
        out = self.compare("lync", "lync/nginx.conf", u.DATA)
        self.assertIn("route = /ucwa/ https://lync_fe read_timeout=1800s", out)
        self.check(os.path.join(u.DATA, "lync", "nginx.conf"), ["--tls-ca", os.path.join(self.dir, "ca.pem")],
                   ["lync-san.contoso.com", "owa.contoso.com", "contoso-ca"])

    def test_seed(self):
        if not seed_extract.seed_path():
            self.skipTest("the seed guide (../shared/seed/) is not here")
        conf = seed_extract.extract(os.path.join(self.dir, "nginx"))
        out = self.compare("seed", "nginx.conf", os.path.dirname(conf))
        for key in ("proxy_pass = https://lync_backend", "return = 301 https://$host$request_uri",
                    "keepalive = 180", "proxy_redirect = default", "gzip_types = text/plain"):
            self.assertIn(key, out)
        self.check(conf, [], [("webext.yourdomain.com_BUNDLED.pem", "webext.yourdomain.com.key")], ["tls_verify"])


def localise(ini, folder):
    """The importer's output made runnable here: no user switch, logs and pid file in folder, upstream host names
    that only exist in the examples on loopback."""
    ini = re.sub(r"(?m)^user = .*\n", "", ini)
    ini = re.sub(r"(?m)^((?:error|access)_log = )/var/log/nginx/", r"\g<1>" + folder + "/", ini)
    ini = re.sub(r"(?m)^(server = )[a-z0-9.-]+\.(local|internal):", r"\g<1>127.0.0.1:", ini)
    ini = re.sub(r"(?m)^(server = )your-lync-server\.DOMAIN\.local:", r"\g<1>127.0.0.1:", ini)
    return ini.replace("[global]\n", "[global]\npid_file = %s/proxyd.pid\n" % folder, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
