#!/usr/bin/env python3
"""Soak load for `feedpub serve`: polling feed readers plus a writer that edits articles.

Readers (default 200) poll over keep-alive HTTP/1.1 on loopback like real feed readers:
mostly conditional GETs with the ETag they last saw (If-None-Match), some unconditional,
some with gzip, a few closing their connection after each poll. Every response is checked:
status line, headers, Content-Length and body; 200 bodies are parsed (XML, JSON, HTML).
A writer adds, edits, re-scrapes (only the Show Count changes) and deletes articles every
second. Every 10 s the server's RSS (VmRSS) and open descriptors (/proc/PID/fd) are sampled.

Prints a Markdown report; exits 1 when any 5xx or malformed response was seen, or when RSS
or descriptors grew after warm-up (not flat).

    soak.py --addr 127.0.0.1:PORT --pid PID --articles DIR [--minutes 30] [--readers 200]
"""

import argparse
import asyncio
import gzip
import json
import os
import random
import statistics
import sys
import time
import xml.etree.ElementTree as ET

PATHS = [("/rss.xml", 50), ("/atom.xml", 30), ("/feed.json", 10), ("/", 10)]


class Stats:
    def __init__(self):
        self.responses = 0
        self.by_status = {}
        self.server_errors = 0
        self.malformed = 0
        self.malformed_examples = []
        self.not_modified = 0
        self.conditional = 0
        self.latencies = []  # seconds, whole run
        self.window = []  # since the last sample
        self.connect_errors = 0
        self.reconnects = 0

    def bad(self, what):
        self.malformed += 1
        if len(self.malformed_examples) < 10:
            self.malformed_examples.append(what)


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round((len(v) - 1) * p)))]


def check_body(path, body, encoding):
    if encoding == "gzip":
        body = gzip.decompress(body)
    elif encoding not in (None, "identity"):
        raise ValueError(f"unexpected content-encoding {encoding}")
    if path.endswith(".xml"):
        ET.fromstring(body)
    elif path.endswith(".json"):
        json.loads(body)
    else:
        text = body.decode("utf-8")
        if not text.startswith("<!DOCTYPE html>") or not text.rstrip().endswith("</html>"):
            raise ValueError("incomplete HTML page")


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or parts[0] != "HTTP/1.1" or not parts[1].isdigit():
        raise ValueError(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        if ":" not in line:
            raise ValueError(f"bad header line {line!r}")
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    length = headers.get("content-length")
    if status == 304:
        body = b""
        if length not in (None, "0"):
            raise ValueError("304 with a body length")
    else:
        if length is None or not length.isdigit():
            raise ValueError(f"{status} without Content-Length")
        body = await reader.readexactly(int(length))
    return status, headers, body


async def reader_task(host, port, stats, stop, seed):
    rnd = random.Random(seed)
    etags = {}
    conn = None
    closes_each_time = rnd.random() < 0.05
    await asyncio.sleep(rnd.uniform(0, 1))
    while not stop.is_set():
        path = rnd.choices([p for p, _ in PATHS], [w for _, w in PATHS])[0]
        encoding = rnd.choice(["identity", "gzip", "gzip", "gzip, deflate"])
        key = (path, encoding)
        conditional = key in etags and rnd.random() < 0.85
        headers = [f"Host: {host}:{port}", "User-Agent: soak/1", f"Accept-Encoding: {encoding}"]
        if conditional:
            headers.append(f"If-None-Match: {etags[key]}")
        if closes_each_time:
            headers.append("Connection: close")
        request = f"GET {path} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n"
        started = time.perf_counter()
        try:
            if conn is None:
                conn = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
                stats.reconnects += 1
            r, w = conn
            w.write(request.encode())
            await w.drain()
            status, resp_headers, body = await asyncio.wait_for(read_response(r), 10)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError) as e:
            # A keep-alive connection closed by the server between two polls is normal;
            # anything else counts.
            if conn is None:
                stats.connect_errors += 1
            elif not isinstance(e, asyncio.IncompleteReadError) or e.partial:
                stats.bad(f"{path}: {type(e).__name__}: {e}")
            if conn is not None:
                conn[1].close()
            conn = None
            continue
        except ValueError as e:
            stats.bad(f"{path}: {e}")
            conn[1].close()
            conn = None
            continue
        elapsed = time.perf_counter() - started
        stats.responses += 1
        stats.by_status[status] = stats.by_status.get(status, 0) + 1
        stats.latencies.append(elapsed)
        stats.window.append(elapsed)
        if conditional:
            stats.conditional += 1
        if status >= 500:
            stats.server_errors += 1
        elif status == 304:
            stats.not_modified += 1
            if not conditional:
                stats.bad(f"{path}: 304 to an unconditional request")
            if "etag" not in resp_headers:
                stats.bad(f"{path}: 304 without ETag")
        elif status == 200:
            if "etag" not in resp_headers:
                stats.bad(f"{path}: 200 without ETag")
            else:
                etags[key] = resp_headers["etag"]
            try:
                check_body(path, body, resp_headers.get("content-encoding"))
            except Exception as e:  # noqa: BLE001 - any parse failure is a malformed body
                stats.bad(f"{path}: body does not parse ({encoding}): {e}")
        else:
            stats.bad(f"{path}: unexpected status {status}")
        if closes_each_time or resp_headers.get("connection", "").lower() == "close":
            conn[1].close()
            conn = None
        await asyncio.sleep(rnd.uniform(0.05, 0.5))
    if conn is not None:
        conn[1].close()


def article(number, title, body, views):
    return (
        f"Print  Send to Friend\n\n12 May 2018\n\n{title}\n\n{body}\n\n"
        f"{number % 24}:{number % 60:02} - 2018/05/12 / number : {number} / Show Count : {views}\n"
    )


async def writer_task(articles, stop, counts, seed):
    rnd = random.Random(seed)
    next_number = 500_000
    existing = {}
    for name in os.listdir(articles):
        if name.startswith("soak_"):
            existing[name] = int(name[5:-4])
    views = {}
    while not stop.is_set():
        await asyncio.sleep(1)
        # add
        next_number += 1
        name = f"soak_{next_number}.txt"
        with open(os.path.join(articles, name), "w") as f:
            f.write(article(next_number, f"Soak story {next_number}", "Fresh body.", 1))
        existing[name] = next_number
        counts["added"] += 1
        names = sorted(existing)
        # edit
        name = rnd.choice(names)
        with open(os.path.join(articles, name), "w") as f:
            f.write(article(existing[name], f"Soak story {existing[name]} (edited)",
                            f"Edited body {rnd.random()}.", views.get(name, 1)))
        counts["edited"] += 1
        # re-scrape: only the view count changes
        name = rnd.choice(names)
        path = os.path.join(articles, name)
        try:
            with open(path) as f:
                text = f.read()
            views[name] = views.get(name, 1) + rnd.randint(1, 50)
            head, sep, _ = text.rpartition("Show Count : ")
            if sep:
                with open(path, "w") as f:
                    f.write(f"{head}{sep}{views[name]}\n")
                counts["rescraped"] += 1
        except FileNotFoundError:
            pass
        # delete (keep at least 60 soak articles)
        if len(existing) > 60:
            name = rnd.choice(names)
            try:
                os.remove(os.path.join(articles, name))
            except FileNotFoundError:
                pass
            existing.pop(name, None)
            counts["deleted"] += 1


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


async def sampler(pid, stats, stop, samples, started, interval):
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except asyncio.TimeoutError:
            pass
        window, stats.window = stats.window, []
        samples.append({
            "t": time.time() - started,
            "rss_kib": rss_kib(pid),
            "fds": fd_count(pid),
            "responses": stats.responses,
            "5xx": stats.server_errors,
            "malformed": stats.malformed,
            "p50_ms": pct(window, 0.5) * 1000,
            "p99_ms": pct(window, 0.99) * 1000,
        })
        s = samples[-1]
        print(f"  t={s['t']:6.0f}s rss={s['rss_kib']}KiB fds={s['fds']} responses={s['responses']} "
              f"5xx={s['5xx']} malformed={s['malformed']} p50={s['p50_ms']:.1f}ms p99={s['p99_ms']:.1f}ms",
              flush=True)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--articles", required=True)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--readers", type=int, default=200)
    ap.add_argument("--sample-secs", type=float, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    host, port = args.addr.rsplit(":", 1)
    port = int(port)
    stats = Stats()
    stop = asyncio.Event()
    counts = {"added": 0, "edited": 0, "rescraped": 0, "deleted": 0}
    samples = []
    started = time.time()
    samples.append({"t": 0, "rss_kib": rss_kib(args.pid), "fds": fd_count(args.pid), "responses": 0,
                    "5xx": 0, "malformed": 0, "p50_ms": float("nan"), "p99_ms": float("nan")})
    tasks = [asyncio.create_task(reader_task(host, port, stats, stop, args.seed * 1000 + i))
             for i in range(args.readers)]
    tasks.append(asyncio.create_task(writer_task(args.articles, stop, counts, args.seed)))
    tasks.append(asyncio.create_task(sampler(args.pid, stats, stop, samples, started, args.sample_secs)))
    await asyncio.sleep(args.minutes * 60)
    stop.set()
    await asyncio.wait(tasks, timeout=30)
    duration = time.time() - started

    # Flatness: after a warm-up of a fifth of the run (at least one minute), RSS may not
    # grow by more than 10 % + 4 MiB, descriptors by more than 20.
    warm = [s for s in samples if s["t"] >= max(60, duration / 5)]
    if len(warm) >= 2:
        rss_growth = warm[-1]["rss_kib"] - min(s["rss_kib"] for s in warm)
        rss_flat = rss_growth <= 0.10 * warm[0]["rss_kib"] + 4096
        fd_range = max(s["fds"] for s in warm) - min(s["fds"] for s in warm)
        fds_flat = fd_range <= 20
    else:
        rss_growth, rss_flat, fd_range, fds_flat = 0, True, 0, True
    share_304 = stats.not_modified / stats.responses if stats.responses else 0
    print()
    print(f"## Soak: {duration / 60:.1f} minutes, {args.readers} readers")
    print()
    print("| figure | value |")
    print("|---|---|")
    print(f"| responses | {stats.responses} ({stats.responses / duration:.0f}/s) |")
    print(f"| by status | {dict(sorted(stats.by_status.items()))} |")
    print(f"| 5xx | {stats.server_errors} |")
    print(f"| malformed | {stats.malformed} |")
    print(f"| conditional requests | {stats.conditional} ({stats.conditional / max(1, stats.responses):.1%}) |")
    print(f"| 304 share | {share_304:.1%} |")
    print(f"| latency p50 / p99 / max | {pct(stats.latencies, 0.5) * 1000:.2f} / "
          f"{pct(stats.latencies, 0.99) * 1000:.2f} / {max(stats.latencies, default=0) * 1000:.1f} ms |")
    print(f"| connections opened / connect errors | {stats.reconnects} / {stats.connect_errors} |")
    print(f"| writer: added / edited / re-scraped / deleted | {counts['added']} / {counts['edited']} / "
          f"{counts['rescraped']} / {counts['deleted']} |")
    print(f"| server RSS first / last / max | {samples[0]['rss_kib']} / {samples[-1]['rss_kib']} / "
          f"{max(s['rss_kib'] for s in samples)} KiB (growth after warm-up {rss_growth} KiB: "
          f"{'flat' if rss_flat else 'GROWING'}) |")
    print(f"| server fds first / last / max | {samples[0]['fds']} / {samples[-1]['fds']} / "
          f"{max(s['fds'] for s in samples)} (range after warm-up {fd_range}: "
          f"{'flat' if fds_flat else 'GROWING'}) |")
    print()
    print("Samples (every %gs): t, RSS KiB, fds, responses, p50 ms, p99 ms" % args.sample_secs)
    print()
    for s in samples:
        print(f"    {s['t']:7.0f} {s['rss_kib']:8d} {s['fds']:6d} {s['responses']:9d} "
              f"{s['p50_ms']:8.2f} {s['p99_ms']:8.2f}")
    for example in stats.malformed_examples:
        print(f"malformed: {example}")
    ok = stats.server_errors == 0 and stats.malformed == 0 and rss_flat and fds_flat
    print()
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
