# The seed guide's two nginx files, cut out of ../shared/seed/nginx-reverse-proxy-for-lync-2013.txt and repaired.
# The web page lost every closing brace and the text in angle brackets; both are restored here, documented below.
"""Extracts the seed guide's sites-enabled/lync and nginx.conf into a folder, as nginx would read them.

Repairs, each one what the page's HTML ate (the guide's own nginx accepted these files):
- closing braces: a block ends where a line is indented no deeper than the line that opened it (or at the end);
  the "}" is appended to the block's last line, so the line numbers stay those of the guide;
- ssl_certificate_key /etc/ssl/private/<name> -> webext.yourdomain.com.key, pid /var/run/<name> -> nginx.pid;
- the absolute includes /etc/nginx/... become relative to the folder (the importer reads from the file's folder).
"""

import os
import re

SEED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "seed",
                    "nginx-reverse-proxy-for-lync-2013.txt")


def seed_path():
    """The seed text: $PROXYD_SEED, else ../shared/seed/ beside the source tree; None when absent."""
    for p in (os.environ.get("PROXYD_SEED"), SEED, "/work/shared/seed/nginx-reverse-proxy-for-lync-2013.txt"):
        if p and os.path.isfile(p):
            return p
    return None


def cut(lines, start_marker, end_marker):
    """The lines from the first "# =====" after start_marker up to end_marker (exclusive)."""
    i = next(n for n, line in enumerate(lines) if line.startswith(start_marker))
    j = next(n for n in range(i + 1, len(lines)) if lines[n].startswith(end_marker))
    k = next(n for n in range(i, j) if lines[n].startswith("# ====="))
    return lines[k:j]


def indent(line):
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def close_braces(lines):
    """Restores the lost "}" by indentation, appended to the last line of each block (before a # comment)."""
    out = list(lines)
    opened = []  # indents of the lines that opened the blocks still open
    last = None  # index of the last directive line
    def close(n):
        line = out[last]
        hash_at = line.find(" #")
        braces = " }" * n
        out[last] = line + braces if hash_at < 0 else line[:hash_at] + braces + line[hash_at:]
    for n, line in enumerate(out):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        k = 0
        while opened and indent(line) <= opened[-1]:
            opened.pop()
            k += 1
        if k:
            close(k)
        if text.endswith("{"):
            opened.append(indent(line))
        last = n
    if opened:
        close(len(opened))
    return out


def repair(lines):
    fixed = []
    for line in lines:
        line = line.replace("ssl_certificate_key /etc/ssl/private/;",
                            "ssl_certificate_key /etc/ssl/private/webext.yourdomain.com.key;")
        line = line.replace("pid /var/run/;", "pid /var/run/nginx.pid;")
        line = re.sub(r"include /etc/nginx/", "include ", line)
        fixed.append(line)
    return close_braces(fixed)


def extract(folder, seed=None):
    """Writes folder/nginx.conf and folder/sites-enabled/lync; returns the path of nginx.conf."""
    with open(seed or seed_path(), encoding="utf-8") as f:
        lines = f.read().split("\n")
    site = repair(cut(lines, "Nginx Configuration (/etc/nginx/sites-enabled/", "Nginx Configuration (/etc/nginx/nginx.conf)"))
    main = repair(cut(lines, "Nginx Configuration (/etc/nginx/nginx.conf)", "Generate Diffie-Hellman"))
    os.makedirs(os.path.join(folder, "sites-enabled"), exist_ok=True)
    with open(os.path.join(folder, "sites-enabled", "lync"), "w", encoding="utf-8") as f:
        f.write("\n".join(site).rstrip() + "\n")
    with open(os.path.join(folder, "nginx.conf"), "w", encoding="utf-8") as f:
        f.write("\n".join(main).rstrip() + "\n")
    return os.path.join(folder, "nginx.conf")


if __name__ == "__main__":
    import sys
    print(extract(sys.argv[1]))
