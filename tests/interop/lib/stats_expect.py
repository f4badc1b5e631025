#!/usr/bin/env python3
"""Helpers of tests/interop/stats.sh.

  stats_expect.py FILE EXPR            exit 0 when EXPR holds of the /stats.json in FILE
                                       (`j`: the JSON; `feed(path)`; `agg(feed, name)`)
  stats_expect.py --feedparser-from ADDR URL
                                       feedparser fetches URL over a connection from ADDR
  stats_expect.py --older-log DAYS     prints a combined log: DAYS older days of polls,
                                       day d with d direct readers and a Feedly report of 10*d
  stats_expect.py --same A B           two /stats.json files give the same figures
  stats_expect.py --no-address DB ADDR...
                                       no ADDR is in the database's bytes, as text or binary
"""

import datetime
import functools
import http.client
import ipaddress
import json
import os
import sys
import urllib.request


def expect(path, expression):
    j = json.load(open(path))

    def feed(p):
        empty = {"subscribers": 0, "direct_clients": 0, "aggregators": []}
        return next((f for f in j["feeds"] if f["path"] == p), empty)

    def agg(f, name):
        return sum(a["subscribers"] for a in f["aggregators"] if a["name"] == name)

    return 0 if eval(expression, {"j": j, "feed": feed, "agg": agg}) else 1


def feedparser_from(address, url):
    import feedparser

    class Bound(urllib.request.HTTPHandler):
        def http_open(self, req):
            connection = functools.partial(http.client.HTTPConnection, source_address=(address, 0))
            return self.do_open(connection, req)

    d = feedparser.parse(url, handlers=[Bound()])
    if d.get("status") != 200 or not d.entries:
        print("feedparser got", d.get("status"), len(d.entries), "entries", d.get("bozo_exception"))
        return 1
    print("feedparser from", address, ":", len(d.entries), "entries")
    return 0


def older_log(days):
    now = datetime.datetime.now(datetime.timezone.utc)
    for d in range(days, 0, -1):
        stamp = (now - datetime.timedelta(days=d)).strftime("%d/%b/%Y:12:00:00 +0000")
        for i in range(d):
            print(f'192.0.2.{i + 1} - - [{stamp}] "GET /rss.xml HTTP/1.1" 200 1234 "-" "newsboat/2.30 (Linux x86_64)"')
        feedly = f"Feedly/1.0 (+http://www.feedly.com/fetcher.html; {10 * d} subscribers; like FeedFetcher-Google)"
        print(f'198.51.100.7 - - [{stamp}] "GET /atom.xml HTTP/1.1" 304 0 "-" "{feedly}"')
    return 0


def same(a, b):
    a, b = json.load(open(a)), json.load(open(b))
    for key in ("subscribers", "feeds", "history"):
        if a[key] != b[key]:
            print("differs:", key, a[key], b[key])
            return 1
    print("same figures:", a["subscribers"], "subscribers,", len(a["history"]), "days of history")
    return 0


def no_address(db, addresses):
    data = b"".join(open(db + s, "rb").read() for s in ("", "-wal", "-shm") if os.path.exists(db + s))
    if len(data) < 4096:
        print("no database found at", db)
        return 1
    for a in addresses:
        ip = ipaddress.IPv4Address(a)
        for form in (a.encode(), ip.packed, ipaddress.IPv6Address("::ffff:" + a).packed, ("::ffff:" + a).encode()):
            if form in data:
                print("found", a, "as", form)
                return 1
    print("no client address in", len(data), "bytes of", db)
    return 0


def main(argv):
    if argv[0] == "--feedparser-from":
        return feedparser_from(argv[1], argv[2])
    if argv[0] == "--older-log":
        return older_log(int(argv[1]))
    if argv[0] == "--same":
        return same(argv[1], argv[2])
    if argv[0] == "--no-address":
        return no_address(argv[1], argv[2:])
    return expect(argv[0], argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
