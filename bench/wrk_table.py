#!/usr/bin/env python3
"""Helpers of bench/serve.sh (python3 standard library only).

    wrk_table.py parse WRK_OUTPUT_FILE
        prints "rps p50_us p99_us non2xx3xx socket_errors requests" of one `wrk --latency` run.

    wrk_table.py table RESULTS_TSV [--targets]
        RESULTS_TSV has the columns: round case conns server rps p50_us p99_us [cpu_us].
        Prints Markdown tables of medians per (case, conns) and server, with the ratios
        feedpub/nginx and feedpub/minimal. A ratio is the median of the per-round ratios
        (each round runs the servers back to back, so pairing cancels slow drifts of a noisy
        machine), followed by the range of the per-round ratios.

        cpu_us, when present, is the server's CPU time (user + system, from /proc) per
        request. On a shared machine it is far steadier than req/s, and for a server bound
        to one core 1/cpu_us is its saturated throughput: the second table compares servers
        by that "CPU-bound capacity".
"""

import re
import statistics
import sys
from collections import defaultdict

UNITS = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}

# Targets: feedpub req/s over nginx req/s, per case; and over the minimal hyper server
# (the scale targets: at least nginx in every cell, at least 0.95x the minimal server).
NGINX_TARGET = {"identity": 1.0, "gzip": 1.0, "304": 1.0, "304-close": 1.0}
MINIMAL_TARGET = 0.95


def to_us(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not m:
        raise ValueError("not a wrk duration: %r" % text)
    return float(m.group(1)) * UNITS[m.group(2)]


def parse(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    if not (rps and p50 and p99):
        raise SystemExit("cannot read wrk output %s:\n%s" % (path, text))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = sum(int(x) for x in sock.groups()) if sock else 0
    total = re.search(r"(\d+) requests in", text)
    print("%s %.1f %.1f %d %d %s" % (
        rps.group(1), to_us(p50.group(1)), to_us(p99.group(1)),
        int(bad.group(1)) if bad else 0, socket_errors, total.group(1) if total else 0))


def fmt_rps(v):
    return "{:,.0f}".format(v)


def fmt_us(v):
    return "%.0f µs" % v if v < 1000 else "%.2f ms" % (v / 1000)


def table(path, targets):
    rows = [line.split() for line in open(path, encoding="utf-8") if line.strip() and not line.startswith("#")]
    data = defaultdict(lambda: defaultdict(list))  # (case, conns) -> server -> [(round, rps, p50, p99)]
    servers = []
    for r in rows:
        rnd, case, conns, server, rps, p50, p99 = r[:7]
        cpu = float(r[7]) if len(r) > 7 else float("nan")
        data[(case, int(conns))][server].append((int(rnd), float(rps), float(p50), float(p99), cpu))
        if server not in servers:
            servers.append(server)
    order = {"identity": 0, "gzip": 1, "304": 2, "304-close": 3}
    keys = sorted(data, key=lambda k: (order.get(k[0], 9), k[1]))
    names = [s for s in ("nginx", "minimal", "feedpub") if s in servers] + [s for s in servers if s not in ("nginx", "minimal", "feedpub")]

    def med(case_key, server, idx):
        vals = [r[idx] for r in data[case_key][server]]
        return statistics.median(vals) if vals else float("nan")

    def paired(case_key, a, b, idx=1, invert=False):
        ra = {r[0]: r[idx] for r in data[case_key][a]}
        rb = {r[0]: r[idx] for r in data[case_key][b]}
        common = sorted(set(ra) & set(rb))
        ratios = [(rb[i] / ra[i]) if invert else (ra[i] / rb[i]) for i in common if ra[i] and rb[i]]
        if not ratios:
            return float("nan"), float("nan"), float("nan")
        return statistics.median(ratios), min(ratios), max(ratios)

    head = ["case", "conns"] + ["%s req/s" % n for n in names]
    if "feedpub" in names and "nginx" in names:
        head.append("feedpub/nginx")
    if "feedpub" in names and "minimal" in names:
        head.append("feedpub/minimal")
    # Side-by-side variants of feedpub: (server, column, numerator, denominator).
    variants = [
        (a, b, col)
        for a, b, col in (
            ("feedpub-stats", "feedpub", "stats on/off"),
            ("feedpub-ops", "feedpub", "log+polite on/off"),
            ("feedpub", "feedpub-base", "feedpub/base"),
        )
        if a in names and b in names
    ]
    head += [col for _, _, col in variants]
    head += ["p50 " + "/".join(names), "p99 " + "/".join(names)]
    rounds = max((len(v) for d in data.values() for v in d.values()), default=0)
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    verdicts = []
    for key in keys:
        case, conns = key
        cells = [case, str(conns)] + [fmt_rps(med(key, n, 1)) for n in names]
        for other, target in (("nginx", NGINX_TARGET.get(case)), ("minimal", MINIMAL_TARGET)):
            if "feedpub" in names and other in names:
                r, lo, hi = paired(key, "feedpub", other)
                cell = "%.2f× (%.2f–%.2f)" % (r, lo, hi)
                if targets and target is not None:
                    ok = r >= target
                    cell += " ≥%g: %s" % (target, "met" if ok else "**MISSED**")
                    verdicts.append((case, conns, other, r, target, ok))
                cells.append(cell)
        for a, b, _ in variants:
            r, lo, hi = paired(key, a, b)
            cells.append("—" if r != r else "%.3f× (%.3f–%.3f)" % (r, lo, hi))
        cells.append(" / ".join(fmt_us(med(key, n, 2)) for n in names))
        cells.append(" / ".join(fmt_us(med(key, n, 3)) for n in names))
        print("| " + " | ".join(cells) + " |")
    print()
    print("Medians of %d round(s); ratios are medians of per-round req/s ratios (range over rounds in parentheses)." % rounds)
    if targets and verdicts:
        missed = [v for v in verdicts if not v[5]]
        print("Targets by req/s: %d met, %d missed." % (len(verdicts) - len(missed), len(missed)))
    has_cpu = any(r[4] == r[4] for d in data.values() for v in d.values() for r in v)
    if not has_cpu:
        return
    print()
    print("Server CPU time per request (user + system, median) and the capacity ratio it implies "
          "(other/feedpub CPU per request = feedpub's saturated req/s relative to the other's):")
    print()
    head = ["case", "conns"] + ["%s CPU/req" % n for n in names]
    if "feedpub" in names and "nginx" in names:
        head.append("capacity feedpub/nginx")
    if "feedpub" in names and "minimal" in names:
        head.append("capacity feedpub/minimal")
    head += ["CPU/req " + col for _, _, col in variants]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    verdicts = []
    for key in keys:
        case, conns = key
        cells = [case, str(conns)] + ["%.1f µs" % med(key, n, 4) for n in names]
        extra = []
        for a, b, _ in variants:
            r, lo, hi = paired(key, a, b, idx=4)
            extra.append("—" if r != r else "%.3f× (%.3f–%.3f)" % (r, lo, hi))
        for other, target in (("nginx", NGINX_TARGET.get(case)), ("minimal", MINIMAL_TARGET)):
            if "feedpub" in names and other in names:
                r, lo, hi = paired(key, "feedpub", other, idx=4, invert=True)
                cell = "%.2f× (%.2f–%.2f)" % (r, lo, hi)
                if targets and target is not None:
                    ok = r >= target
                    cell += " ≥%g: %s" % (target, "met" if ok else "**MISSED**")
                    verdicts.append(ok)
                cells.append(cell)
        print("| " + " | ".join(cells + extra) + " |")
    if targets and verdicts:
        print()
        print("Targets by CPU capacity: %d met, %d missed." % (sum(verdicts), len(verdicts) - sum(verdicts)))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "parse":
        parse(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "table":
        table(sys.argv[2], "--targets" in sys.argv[3:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
