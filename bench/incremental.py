#!/usr/bin/env python3
"""Incremental-update latency of a running `feedpub serve` (python3 standard library only).

    incremental.py --url http://127.0.0.1:PORT/rss.xml --article FILE [--edits 10]
                   [--pid PID] [--interval-ms 2] [--timeout 30]

For each edit: append one word to the first body paragraph of FILE (written to a hidden
temporary file in the same folder, then renamed over FILE, as publishing tools do), then
poll `HEAD /rss.xml` on one keep-alive connection every --interval-ms until the ETag
differs from the one served before the edit; then poll with `Accept-Encoding: gzip` until
the gzip variant of the new bytes is served. Prints one line per edit and, at the end,
`median_ms`, `min_ms`, `max_ms` (the new ETag), `gzip_median_ms`, `gzip_max_ms` (the new
gzip variant) and the server's VmRSS/VmHWM (with --pid), as `key value` lines that
bench/regen.sh reads.

FILE should be the newest article (bench/gen_corpus.py makes article 0 the newest), so
that every edit changes the feed.
"""

import argparse
import http.client
import os
import statistics
import sys
import time
import urllib.parse


def head_etag(conn, path, encoding=None):
    """The ETag of HEAD path; with `encoding`, that of the variant in that encoding, or None
    while the server answers with another one (the new bytes not compressed yet)."""
    conn.request("HEAD", path, headers={"Accept-Encoding": encoding} if encoding else {})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise SystemExit("HEAD %s: %d" % (path, resp.status))
    if encoding and resp.getheader("Content-Encoding") != encoding:
        return None
    return resp.getheader("ETag")


def proc_status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])  # kB
    except OSError:
        return None
    return None


def edit(path, k):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    blocks = text.split("\n\n")
    # blocks: chrome, date, title, paragraphs..., footer: append to the first paragraph.
    i = 3 if len(blocks) > 4 else len(blocks) - 2
    blocks[i] = blocks[i].rstrip() + " edit%d" % k
    data = "\n\n".join(blocks).encode("utf-8")
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, ".%s.tmp" % name)
    with open(tmp, "wb") as f:
        f.write(data)
    start = time.monotonic()
    wall = time.time()
    os.replace(tmp, path)
    return start, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--article", required=True)
    ap.add_argument("--edits", type=int, default=10)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--interval-ms", type=float, default=2.0)
    ap.add_argument("--pause", type=float, default=1.5, help="seconds between edits")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    u = urllib.parse.urlsplit(args.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=args.timeout)
    path = u.path or "/"
    samples = []
    gzip_samples = []
    for k in range(1, args.edits + 1):
        before = head_etag(conn, path)
        before_gzip = head_etag(conn, path, "gzip")
        start, wall = edit(args.article, k)
        deadline = start + args.timeout
        polls = 0
        for encoding, old in ((None, before), ("gzip", before_gzip)):
            while True:
                polls += 1
                etag = head_etag(conn, path, encoding)
                now = time.monotonic()
                if etag is not None and etag != old:
                    break
                if now > deadline:
                    raise SystemExit("edit %d: the ETag did not change within %.0f s" % (k, args.timeout))
                time.sleep(args.interval_ms / 1000)
            if encoding is None:
                ms = (now - start) * 1000
        gzip_ms = (now - start) * 1000
        samples.append(ms)
        gzip_samples.append(gzip_ms)
        stamp = time.strftime("%H:%M:%S", time.gmtime(wall)) + (".%03dZ" % (wall % 1 * 1000))
        print("edit %d at %s: new ETag after %.1f ms, its gzip variant after %.1f ms (%d polls)"
              % (k, stamp, ms, gzip_ms, polls), file=sys.stderr)
        time.sleep(args.pause)
    print("edits %d" % len(samples))
    print("median_ms %.1f" % statistics.median(samples))
    print("min_ms %.1f" % min(samples))
    print("max_ms %.1f" % max(samples))
    print("samples_ms %s" % ",".join("%.1f" % s for s in samples))
    print("gzip_median_ms %.1f" % statistics.median(gzip_samples))
    print("gzip_max_ms %.1f" % max(gzip_samples))
    if args.pid:
        print("vmrss_kb %s" % proc_status(args.pid, "VmRSS"))
        print("vmhwm_kb %s" % proc_status(args.pid, "VmHWM"))


if __name__ == "__main__":
    main()
