# bench/lib/report.py: turns the measurements of a run into results/latest.md, results/latest.png and results/raw/.
# Medians and min-max per proxy, ratios of proxyd to each peer, and the goals side by side (never asserted).
import datetime
import json
import os
import platform
import statistics
import subprocess

PROXIES = ["proxyd", "nginx", "haproxy"]

# key -> (goal text, check(ratio_to_nginx, proxyd_value) -> bool)
GOALS = {
    "plain": ("≥ 1.3× nginx", lambda r, v: r >= 1.3),
    "tls": ("≥ 1.1× nginx", lambda r, v: r >= 1.1),
    "guarded": ("within 5% of proxyd's plain row (issue 17)", None),
    "tls13": ("≥ 1.1× nginx", lambda r, v: r >= 1.1),
    "tls2": ("≥ 1.1× nginx", lambda r, v: r >= 1.1),
    "handshake": ("close to nginx", None),
    "handshake_ec": ("close to nginx", None),
    "handshake13": ("close to nginx", None),
    "handshake13_ec": ("close to nginx", None),
    "resume": ("≥ 1.0× nginx", lambda r, v: r >= 1.0),
    "resume13": ("≥ 1.0× nginx", lambda r, v: r >= 1.0),
    "mem_plain": ("≤ 1 KiB/conn", lambda r, v: v <= 1024),
    "mem_tls": ("≤ 4 KiB/conn", lambda r, v: v <= 4096),
    "mem_tls13": ("≤ 4 KiB/conn", lambda r, v: v <= 4096),
    "syscalls": ("≤ 5/req", lambda r, v: v <= 5),
    "instructions": ("≤ 0.5× nginx", lambda r, v: r <= 0.5),
}


class Row:
    """One scenario: every round's value per proxy, the proxy's CPU use during it, and anything odd."""

    def __init__(self, key, title, unit, better):
        self.key, self.title, self.unit, self.better = key, title, unit, better
        self.values = {p: [] for p in PROXIES}
        self.cpu = {p: [] for p in PROXIES}
        self.notes = {p: [] for p in PROXIES}
        self.skip = {}

    def add(self, proxy, value, cpu, note):
        self.values[proxy].append(value)
        if cpu is not None:
            self.cpu[proxy].append(cpu)
        if note:
            self.notes[proxy].append(note)

    def median(self, proxy):
        v = self.values[proxy]
        return statistics.median(v) if v else None

    def efficiency_ratio(self, peer):
        """proxyd/peer in rate per proxy CPU-second: fair even when the load generator, not the proxy, is the limit."""
        def eff(p):
            pairs = [v / (c / 100.0) for v, c in zip(self.values[p], self.cpu[p]) if c > 0]
            return statistics.median(pairs) if pairs else None
        a, b = eff("proxyd"), eff(peer)
        return a / b if a and b else None

    def ratio(self, peer):
        a, b = self.median("proxyd"), self.median(peer)
        return a / b if a is not None and b else None


def fmt(v):
    if v is None:
        return "—"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.2f}"


def cell(row, proxy):
    if not row.values[proxy]:
        return row.skip.get(proxy, "—")
    return fmt(row.median(proxy)) + (" ⚠" if row.notes[proxy] else "")


def spread(row):
    parts = []
    for p in PROXIES:
        v = row.values[p]
        parts.append(f"{fmt(min(v))}–{fmt(max(v))}" if len(v) > 1 else ("n=1" if v else "—"))
    return " / ".join(parts)


def cpu_cell(row):
    if not any(row.cpu.values()):
        return "—"
    return " / ".join(f"{statistics.median(row.cpu[p]):.0f}%" if row.cpu[p] else "—" for p in PROXIES)


def eff_cell(row):
    en, eh = row.efficiency_ratio("nginx"), row.efficiency_ratio("haproxy")
    if en is None and eh is None:
        return "—"
    return f"{fmt(en) + '×' if en else '—'}, {fmt(eh) + '×' if eh else '—'}"


BOUND_CPU = 95.0  # below this proxy CPU share (median), the load generator rather than the proxy set the rate


def proxyd_cpu(row):
    c = row.cpu["proxyd"]
    return statistics.median(c) if c else None


def goal_cell(row):
    goal = GOALS.get(row.key)
    if not goal:
        return "—"
    text, check = goal
    r, v = row.ratio("nginx"), row.median("proxyd")
    if check is None or v is None or (r is None and "nginx" in text):
        return text
    if check(r, v):
        return f"{text}: met"
    c = proxyd_cpu(row)
    return f"{text}: not met" + (f" (load-generator bound: proxyd at {c:.0f}% CPU)" if c and c < BOUND_CPU else "")


def limits(rows_by_key, load_cpu):
    """Why a rate ratio is what it is: who was saturated, and the best ratio proxyd could reach with no user-space
    work at all (its kernel time per request against nginx's whole CPU time per request)."""
    out = []
    for key in ("plain", "tls", "tls13", "tls2"):
        row, u, k = (rows_by_key.get(x) for x in (key, f"cpu_user_{key}", f"cpu_sys_{key}"))
        if not row or not u or not k or None in (u.median("proxyd"), k.median("proxyd"), u.median("nginx"),
                                                  k.median("nginx")):
            continue
        pu, pk, nu, nk = u.median("proxyd"), k.median("proxyd"), u.median("nginx"), k.median("nginx")
        c, eff = proxyd_cpu(row), row.efficiency_ratio("nginx")
        who = "the load generator (CPU 1)" if c and c < BOUND_CPU else "proxyd itself (CPU 0)"
        busy = " / ".join(f"{statistics.median(load_cpu[(key, p)]):.0f}%" if load_cpu.get((key, p)) else "—"
                          for p in PROXIES)
        out.append(f"- **{key}**: proxyd spends {fmt(pu)} ns user + {fmt(pk)} ns kernel per request, nginx {fmt(nu)}"
                   f" + {fmt(nk)} ns. Rate set by {who}: proxyd at {c:.0f}% CPU, CPU 1 busy {busy} (p / n / h); "
                   f"per proxy CPU-second proxyd "
                   f"does {fmt(eff)}× nginx's requests. Kernel share of proxyd's time {100 * pk / (pu + pk):.0f}%: "
                   f"with no user-space work at all proxyd would reach at most {fmt((nu + nk) / pk)}× nginx here.")
    return out


def defence_cost(rows_by_key):
    """The "guarded" row against the "plain" row, per proxy: what allow/deny and the per-client limits cost."""
    g, pl = rows_by_key.get("guarded"), rows_by_key.get("plain")
    if not g or not pl:
        return []
    out = []
    for p in PROXIES:
        a, b = g.median(p), pl.median(p)
        ug, up = rows_by_key.get("cpu_user_guarded"), rows_by_key.get("cpu_user_plain")
        kg, kp = rows_by_key.get("cpu_sys_guarded"), rows_by_key.get("cpu_sys_plain")
        if a is None or not b:
            continue
        line = f"- **{p}**: guarded {fmt(a)} req/s = {a / b:.3f}× its plain row"
        if ug and up and kg and kp and None not in (ug.median(p), up.median(p), kg.median(p), kp.median(p)):
            line += (f"; CPU per request {fmt(ug.median(p) + kg.median(p))} ns against "
                     f"{fmt(up.median(p) + kp.median(p))} ns")
        out.append(line)
    return out


def versions(build):
    def first(cmd):
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
            return r.stdout.decode(errors="replace").strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "unavailable"

    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "proxyd": first([os.path.join(build, "proxyd", "proxyd"), "-v"]),
        "nginx": first(["nginx", "-v"]),
        "haproxy": first(["haproxy", "-v"]),
        "wrk": first(["wrk", "-v"]),
        "openssl": first(["openssl", "version"]),
        "valgrind": first(["valgrind", "--version"]),
        "strace": first(["strace", "-V"]),
        "kernel": platform.release(),
        "cpu": f"{cpu} ({os.cpu_count()} CPUs)",
    }


def table(rows):
    out = ["| scenario | unit | proxyd | nginx | haproxy | spread min–max (p / n / h) | proxyd/nginx | proxyd/haproxy "
           "| proxy CPU (p / n / h) | per CPU-s p/n, p/h | goal (issues 9, 16) |",
           "|---|---|---:|---:|---:|---|---:|---:|---|---|---|"]
    for row in rows:
        rn, rh = row.ratio("nginx"), row.ratio("haproxy")
        out.append(f"| {row.title} | {row.unit} | {cell(row, 'proxyd')} | {cell(row, 'nginx')} | "
                   f"{cell(row, 'haproxy')} | {spread(row)} | {fmt(rn) + '×' if rn else '—'} | "
                   f"{fmt(rh) + '×' if rh else '—'} | {cpu_cell(row)} | {eff_cell(row)} | {goal_cell(row)} |")
    return out


def chart(args, rows):
    """Grouped bars of the median rate per throughput scenario; log scale, since handshakes/s ≪ requests/s."""
    tp = [r for r in rows if r.unit in ("req/s", "conn/s")]
    if not tp:
        return None
    dat = os.path.join(args.out, "raw", "chart.dat")
    with open(dat, "w") as f:
        f.write("# scenario proxyd nginx haproxy\n")
        for r in tp:
            vals = [r.median(p) for p in PROXIES]
            f.write(f"\"{r.key}\" " + " ".join(f"{v:.0f}" if v else "NaN" for v in vals) + "\n")
    png = os.path.join(args.out, "latest.png")
    gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chart.gp")
    r = subprocess.run(["gnuplot", "-e", f"datafile='{dat}'; outfile='{png}'", gp], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0:
        return "gnuplot failed: " + r.stdout.decode(errors="replace")[-300:]
    return None


def write(args, rows_by_key, commands, notes, elapsed, build, load_cpu):
    order = ["plain", "guarded", "tls", "tls13", "tls2", "handshake", "handshake_ec", "handshake13", "handshake13_ec", "resume",
             "resume13", "plain64k", "tls64k", "mem_plain", "mem_tls", "mem_tls13", "syscalls", "instructions"] + [
        f"cpu_{part}_{key}" for key in ("plain", "guarded", "tls", "tls13", "tls2") for part in ("user", "sys")]
    rows = [rows_by_key[k] for k in order if k in rows_by_key]
    v = versions(build)
    chart_err = chart(args, rows)
    mode = "quick (1 round of short runs)" if args.quick else f"{args.rounds} rounds"
    md = ["# proxyd vs nginx vs HAProxy: latest run", "",
          f"Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')} · mode: {mode}, "
          f"{args.duration}s per wrk run · run time {elapsed:.0f}s · scenarios: {','.join(args.only)}", "",
          "Medians over the rounds (A B C alternation). Ratios are proxyd ÷ peer: above 1 is better for rates, "
          "below 1 is better for bytes, calls and instructions. Absolute numbers vary between machines; "
          "compare the ratios. ⚠ = see the notes. Proxy CPU is the proxy's own CPU use during the run: "
          "well below 100% means the load generator, not the proxy, was the limit; "
          "the per CPU-s column then compares rate per proxy CPU-second instead.", ""]
    md += table(rows)
    md += ["", "![requests per second by scenario](latest.png)" if not chart_err else f"Chart: {chart_err}", ""]
    why = limits(rows_by_key, load_cpu)
    if why:
        md += ["## What limits the ratios", ""] + why + [""]
    cost = defence_cost(rows_by_key)
    if cost:
        md += ["## What the edge defences cost (guarded ÷ plain, same proxy)", ""] + cost + [""]
    md += ["## Notes", ""]
    for n in notes:
        md.append(f"- {n}")
    for row in rows:
        for p in PROXIES:
            for n in sorted(set(row.notes[p])):
                md.append(f"- {row.key} / {p}: {n}")
    md.append("- Pinning: each proxy on CPU 0 (one worker/thread); origin, TLS upstream, wrk, s_time, ab and the idle "
              "client share CPU 1 (the machine has 2 cores).")
    md += ["", "## Versions", ""] + [f"- {k}: {val}" for k, val in v.items()]
    md += ["", "## Commands", "", "```"] + [f"{k}: {c}" for k, c in commands.items()] + ["```", "",
           "Configurations as run: `raw/conf/`; every tool's output: `raw/tools.log`; all values: `raw/runs.json`.", ""]
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(args.out, "raw", "runs.json"), "w") as f:
        json.dump({"date": datetime.datetime.now().isoformat(), "mode": mode, "versions": v,
                   "rows": [{"key": r.key, "title": r.title, "unit": r.unit, "values": r.values, "cpu": r.cpu,
                             "notes": r.notes, "skip": r.skip} for r in rows],
                   "load_cpu": {f"{k}/{p}": v for (k, p), v in load_cpu.items()}}, f, indent=1)
