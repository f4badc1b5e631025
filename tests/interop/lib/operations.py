#!/usr/bin/python3
"""Checks of the operations part (tests/interop/operations.sh): feedparser over https,
goaccess's reading of the access log, and a counter of /metrics."""

import json
import re
import sys

import feedparser


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def fp_https(url, min_entries):
    """feedparser fetches and reads the feed over https (the CA comes from SSL_CERT_FILE)."""
    d = feedparser.parse(url)
    if d.get("bozo"):
        fail(f"bozo: {d.get('bozo_exception')!r}")
    if d.get("status") != 200 or not d.get("href", "").startswith("https://"):
        fail(f"status {d.get('status')}, href {d.get('href')}")
    if len(d.entries) < min_entries:
        fail(f"{len(d.entries)} entries, want at least {min_entries}")
    self_links = [l.href for l in d.feed.get("links", []) if l.get("rel") == "self"]
    if not self_links or not all(h.startswith("https://") for h in self_links):
        fail(f"self links {self_links}: not https")
    print(f"{len(d.entries)} entries over https, self {self_links}", file=sys.stderr)


def goaccess(report, log):
    """goaccess read every line of the access log as a valid request."""
    with open(report, encoding="utf-8") as f:
        general = json.load(f)["general"]
    with open(log, encoding="utf-8") as f:
        lines = sum(1 for line in f if line.strip())
    print(json.dumps(general, indent=1), file=sys.stderr)
    total = general.get("total_requests")
    valid = general.get("valid_requests")
    failed = general.get("failed_requests")
    if lines == 0 or total != lines or valid != lines or failed:
        fail(f"{lines} log lines; goaccess: total {total}, valid {valid}, failed {failed}")


def counter(metrics_file, series):
    """Prints the value of one series of a /metrics text (0 when absent)."""
    with open(metrics_file, encoding="utf-8") as f:
        for line in f:
            if line.startswith(series + " "):
                print(int(float(line.split()[-1])))
                return
    print(0)


def main():
    command, *args = sys.argv[1:]
    if command == "fp-https":
        fp_https(args[0], int(args[1]))
    elif command == "goaccess":
        goaccess(args[0], args[1])
    elif command == "counter":
        counter(args[0], args[1])
    else:
        fail(f"unknown command {command}")


if __name__ == "__main__":
    main()
