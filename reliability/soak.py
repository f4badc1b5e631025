#!/usr/bin/env python3
"""Soak load for two `feedpub serve` processes on one articles folder, one plain, one TLS.

Readers (default 200, half of them over TLS) poll over keep-alive HTTP/1.1 on loopback like
real feed readers, each from one of 127.0.0.2-127.0.0.20 (the client socket is bound there)
with one User-Agent: a quarter are aggregators that report subscribers (Feedly, Inoreader,
NewsBlur, Feedbin; see src/stats/agents.rs), the others direct readers (newsboat,
NetNewsWire, Thunderbird, Liferea, Miniflux, FreshRSS). Each reader polls the feeds it is
subscribed to (main, language and tag feeds, Persian tag included) and, for direct readers,
the index page: conditional GETs with the ETag (If-None-Match) or the Last-Modified
(If-Modified-Since) it last saw, or unconditional ones, with and without gzip, a few closing
their connection after each poll. One more reader polls the TLS server over HTTP/2 (curl).

Every response is checked: status line, headers, Content-Length and body; 200 bodies are
parsed (XML, JSON, HTML). Every feed document's items are checked by readers that keep state
(per reader, server and feed):
- duplicate: one identity (RSS guid, Atom id, JSON Feed id) twice in one document;
- re-identified: an identity carrying another article's title than before (titles keep
  their stem across edits), or a writer's article under another identity than its own;
- vanished: an item of the reader's previous document of that feed that is missing from the
  next one, although its article was not deleted before that response came, and although it
  is not older than or as old as the oldest item of a full next document (max_items items:
  pushed out by newer articles). Deleted or pushed-out items are counted, not errors.

A writer, every --write-secs, adds an article (scraped or Markdown, English or Persian, in
turn, dated after every earlier one, written to a hidden file then renamed), edits one of
the newest (a new title suffix and body; Markdown gains `updated`), re-scrapes one scraped
article in place (only the Show Count changes) and deletes one of the newest (keeping 60).
Every --sighup-secs the access logs are renamed and both servers get SIGHUP; every
--import-secs a synthetic combined log of another mirror (its own clients and aggregators,
non-poll and malformed lines) is imported into the plain server's database together with
the previous one (whose lines must count as already imported); every --metrics-secs
/metrics is scraped with the admin token. Every 10 s each server's RSS (VmRSS) and open
descriptors (/proc/PID/fd) are sampled; every 10 minutes the load average.

At the end /stats.json of each server is compared with what its readers did (distinct
(address, User-Agent) pairs per feed, the last count of each aggregator subscription, polls
per reader) plus, for the plain server, the imported polls; the access logs are counted
against the responses.

Prints a Markdown report; exits 1 on any 5xx, malformed response, duplicate, vanished or
re-identified item, statistics or import figures that disagree, or RSS or descriptors that
grew after warm-up (not flat).

    soak.py --work DIR --feedpub BIN --articles DIR --plain ADDR --plain-pid PID
            --tls ADDR --tls-pid PID --cafile PEM [--minutes 30] [--readers 200] ...
The admin tokens come from SOAK_PLAIN_TOKEN and SOAK_TLS_TOKEN.
"""

import argparse
import array
import asyncio
import datetime as dt
import email.utils
import gzip
import json
import os
import random
import re
import signal
import ssl
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
PERSIAN_TAG = "ترافیک"
PERSIAN_TAG_PATH = "/tags/" + urllib.parse.quote(PERSIAN_TAG) + "/atom.xml"
# The feeds readers subscribe to; polls of these count in the statistics.
FEEDS = ["/rss.xml", "/atom.xml", "/feed.json", "/lang/fa/rss.xml", "/lang/en/atom.xml",
         "/tags/soak/rss.xml", "/tags/roads/feed.json", PERSIAN_TAG_PATH]
DIRECT_AGENTS = [
    "newsboat/2.36.0 (Linux x86_64)",
    "NetNewsWire (RSS Reader; https://netnewswire.com/)",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0",
    "Liferea/1.15.7 (Linux; en_US.UTF-8; https://lzone.de/liferea/)",
    "Miniflux/2.2.3 (+https://miniflux.app)",
    "FreshRSS/1.24.3 (Linux; https://freshrss.org)",
]
H2_AGENT = "Reeder/5.4 CFNetwork/1498.700.2 Darwin/23.6.0"
H2_ADDR = "127.0.0.21"
SOAK_TITLE = re.compile(r"#(\d+)")
EDIT_SUFFIX = re.compile(r" \(edit \d+\)$")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]


def count_of(feed, salt):
    """A subscriber count that depends only on the feed (for aggregators without ids)."""
    return 5 + zlib.crc32(f"{salt}{feed}".encode()) % 90


def aggregator_agent(name, feed, i):
    """(User-Agent, feed_id as the server reads it, subscribers) of aggregator `name`."""
    if name == "Feedly":
        n = count_of(feed, "feedly")
        fid = zlib.crc32(feed.encode()) % 100000
        return (f"Feedly/1.0 (+http://www.feedly.com/fetcher.html; {n} subscribers; "
                f"feed-id={fid})", "", n)
    if name == "Inoreader":
        n = count_of(feed, "inoreader")
        return (f"Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; {n} subscribers; "
                f"like FeedFetcher-Google)", "", n)
    if name == "NewsBlur":
        n = 1 + i % 30
        site = 6000 + i
        return (f"NewsBlur Feed Fetcher - {n} subscribers - https://www.newsblur.com/site/"
                f"{site}/soak (Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
                f"AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36)",
                str(site), n)
    n = 2 + i % 20
    fid = 1000 + i
    return f"Feedbin feed-id:{fid} - {n} subscribers", str(fid), n


def product(agent):
    """The reader's name as src/stats/agents.rs `product` makes it."""
    agent = agent.strip()
    i = agent.find("compatible;")
    start = agent[i + len("compatible;"):] if i >= 0 and agent.startswith("Mozilla/") else agent
    tokens = re.split(r"[/;()\s\x00-\x1f\x7f]", start.lstrip())
    name = next((t for t in tokens if t), "")[:40]
    return name or "unknown"


def norm_feed(path):
    return urllib.parse.unquote(path)


class Stats:
    def __init__(self):
        self.responses = 0
        self.by_status = {}
        self.server_errors = 0
        self.malformed = 0
        self.malformed_examples = []
        self.not_modified = 0
        self.conditional = 0
        self.latencies = array.array("d")  # seconds, whole run
        self.window = []  # since the last sample
        self.connect_errors = 0
        self.reconnects = 0

    def bad(self, what):
        self.malformed += 1
        if len(self.malformed_examples) < 10:
            self.malformed_examples.append(what)


class Expected:
    """What one server's statistics must say, from the polls its readers saw answered."""

    def __init__(self):
        self.direct = set()  # (feed, address, agent)
        self.aggregators = {}  # (feed, name, feed_id) -> (time, subscribers)
        self.polls = {}  # reader name -> [polls, conditional]

    def poll(self, feed, addr, agent, aggregator, when, conditional):
        feed = norm_feed(feed)
        if aggregator:
            name, fid, n = aggregator
            key = (feed, name, fid)
            if key not in self.aggregators or self.aggregators[key][0] <= when:
                self.aggregators[key] = (when, n)
        else:
            name = product(agent)
            self.direct.add((feed, addr, agent))
        entry = self.polls.setdefault(name, [0, 0])
        entry[0] += 1
        entry[1] += int(conditional)

    def figures(self):
        feeds = {}
        for feed, _, _ in self.direct:
            feeds.setdefault(feed, {"direct": 0, "aggregators": {}})["direct"] += 1
        for (feed, name, _), (_, n) in self.aggregators.items():
            aggs = feeds.setdefault(feed, {"direct": 0, "aggregators": {}})["aggregators"]
            aggs[name] = aggs.get(name, 0) + n
        for f in feeds.values():
            f["subscribers"] = f["direct"] + sum(f["aggregators"].values())
        return feeds


class Server:
    def __init__(self, name, addr, pid, token, tls, work):
        self.name = name
        host, port = addr.rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.pid = pid
        self.token = token
        self.tls = tls  # an SSLContext, or None
        self.dir = os.path.join(work, name)
        self.stats = Stats()
        self.expect = Expected()
        self.answered = 0  # every complete response of any request, for the access log
        self.samples = []
        self.metrics = {"scrapes": 0, "failed": 0, "5xx": 0, "last": {}, "examples": []}
        self.sighups = 0
        self.h2 = {"polls": 0, "bad": 0, "versions": {}, "examples": []}


class Items:
    """The checks of readers that keep state: duplicates, identities, vanished items."""

    def __init__(self, writer, max_items):
        self.writer = writer
        self.max_items = max_items
        self.documents = 0
        self.items = 0
        self.duplicates = 0
        self.reidentified = 0
        self.vanished = 0
        self.left_deleted = 0
        self.left_pushed_out = 0
        self.without_text = 0  # items published without their text (see README, "Memory")
        self.examples = []
        self.stem_of = {}  # identity -> title stem
        self.soak_seen = set()

    def note(self, what):
        if len(self.examples) < 20:
            self.examples.append(what)

    def check(self, state, server, path, items, received):
        self.documents += 1
        self.items += len(items)
        ids = [i[0] for i in items]
        if len(set(ids)) != len(ids):
            dups = sorted({i for i in ids if ids.count(i) > 1})
            self.duplicates += len(dups)
            self.note(f"duplicate: {server.name} {path}: {dups[:3]}")
        for ident, title, _, has_text in items:
            if not has_text:
                self.without_text += 1
                if self.without_text <= 5:
                    self.note(f"without text: {server.name} {path}: {ident} ({title!r})")
            stem = EDIT_SUFFIX.sub("", title)
            before = self.stem_of.setdefault(ident, stem)
            if before != stem:
                self.reidentified += 1
                self.note(f"re-identified: {server.name} {path}: {ident} was {before!r}, now {stem!r}")
            m = SOAK_TITLE.search(title)
            if m and int(m.group(1)) > Writer.FIRST:
                rec = self.writer.articles.get(int(m.group(1)))
                if rec is None or rec["guid"] != ident:
                    self.reidentified += 1
                    self.note(f"re-identified: {server.name} {path}: {title!r} has {ident}, "
                              f"expected {rec and rec['guid']}")
        previous = state.get(path)
        state[path] = (items, received)
        if previous is None:
            return
        now_ids = set(ids)
        full = len(items) >= self.max_items
        oldest = min((i[2] for i in items), default=None)
        for ident, title, date, _ in previous[0]:
            if ident in now_ids:
                continue
            rec = self.writer.by_guid.get(ident)
            if rec is not None and rec["deleted_at"] is not None and rec["deleted_at"] < received:
                self.left_deleted += 1
            elif full and oldest is not None and date <= oldest:
                self.left_pushed_out += 1
            else:
                self.vanished += 1
                inplace = rec and rec["inplace_at"] and received - rec["inplace_at"] < 5
                self.note(f"vanished: {server.name} {path}: {ident} ({title!r}, {date}) missing "
                          f"from a document of {len(items)} items received at "
                          f"{received:.3f}, oldest {oldest}; deleted at "
                          f"{rec and rec['deleted_at']}; rewritten in place "
                          f"{'%.2f s before' % (received - rec['inplace_at']) if inplace else 'no'}")


def parse_date(text):
    text = (text or "").strip()
    try:
        if text[:1].isdigit():
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (ValueError, TypeError):
        raise ValueError(f"bad item date {text!r}") from None


def check_body(path, body, encoding):
    """Parses the body; returns the items (identity, title, date, has text) of a feed, else None."""
    if encoding == "gzip":
        body = gzip.decompress(body)
    elif encoding not in (None, "identity"):
        raise ValueError(f"unexpected content-encoding {encoding}")
    if path.endswith(".xml"):
        root = ET.fromstring(body)
        if root.tag == "rss":
            return [(i.findtext("guid"), i.findtext("title") or "", parse_date(i.findtext("pubDate")),
                     bool((i.findtext(CONTENT) or "").strip()))
                    for i in root.iter("item")]
        if root.tag == ATOM + "feed":
            return [(e.findtext(ATOM + "id"), e.findtext(ATOM + "title") or "",
                     parse_date(e.findtext(ATOM + "published")),
                     bool((e.findtext(ATOM + "content") or "").strip()))
                    for e in root.iter(ATOM + "entry")]
        raise ValueError(f"unexpected root element {root.tag}")
    if path.endswith(".json"):
        doc = json.loads(body)
        return [(i["id"], i.get("title", ""), parse_date(i.get("date_published")),
                 bool(i.get("content_html", "").strip()))
                for i in doc["items"]]
    text = body.decode("utf-8")
    if not text.startswith("<!DOCTYPE html>") or not text.rstrip().endswith("</html>"):
        raise ValueError("incomplete HTML page")
    return None


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round((len(v) - 1) * p)))]


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


async def open_conn(server, local):
    return await asyncio.open_connection(server.host, server.port, ssl=server.tls,
                                         local_addr=(local, 0) if local else None)


PROBE_AGENT = "soak-probe/1"


async def fetch(server, path, headers=()):
    """One request on a new connection from 127.0.0.1, for the probes (metrics, statistics)."""
    r, w = await asyncio.wait_for(open_conn(server, "127.0.0.1"), 10)
    try:
        head = [f"Host: {server.host}:{server.port}", f"User-Agent: {PROBE_AGENT}",
                "Connection: close", *headers]
        w.write((f"GET {path} HTTP/1.1\r\n" + "\r\n".join(head) + "\r\n\r\n").encode())
        await w.drain()
        status, resp_headers, body = await asyncio.wait_for(read_response(r), 20)
        server.answered += 1
        if status in (200, 304) and path in FEEDS:
            server.expect.poll(path, "127.0.0.1", PROBE_AGENT, None, time.time(), False)
        return status, resp_headers, body
    finally:
        w.close()


class Identity:
    """One reader installation: where it polls from, as whom, and what."""

    def __init__(self, i, rnd, servers):
        self.server = servers[(i + i // 4) % 2]
        self.local = f"127.0.0.{2 + (i // 2) % 19}"
        self.aggregator = None
        if i % 4 == 0:
            name = ["Feedly", "Inoreader", "NewsBlur", "Feedbin"][(i // 4) % 4]
            feed = FEEDS[(i // 16 + i // 4) % len(FEEDS)]
            agent, fid, n = aggregator_agent(name, feed, i)
            self.agent, self.aggregator = agent, (name, fid, n)
            self.paths = [(feed, 1)]
        else:
            self.agent = DIRECT_AGENTS[i % len(DIRECT_AGENTS)]
            feeds = rnd.sample(FEEDS, rnd.randint(1, 3))
            self.paths = [(f, 10) for f in feeds] + [("/", 3)]
        self.style = rnd.choices(["etag", "since", "never"], [70, 15, 15])[0]
        self.closes_each_time = rnd.random() < 0.05
        # The first NewsBlur subscription reports more subscribers from half-time on.
        self.grows = self.aggregator is not None and i == 8


async def reader_task(ident, items, stop, half, seed, poll_range):
    server, stats = ident.server, ident.server.stats
    rnd = random.Random(seed)
    validators = {}  # (path, encoding) -> header
    state = {}  # path -> (items, received) of the last document
    conn = None
    await asyncio.sleep(rnd.uniform(0, 1))
    while not stop.is_set():
        if ident.grows and half.is_set():
            name, fid, n = ident.aggregator
            ident.aggregator = (name, fid, n + 100)
            ident.agent = ident.agent.replace(f"- {n} subscribers", f"- {n + 100} subscribers")
            ident.grows = False
        path = rnd.choices([p for p, _ in ident.paths], [w for _, w in ident.paths])[0]
        encoding = rnd.choice(["identity", "gzip", "gzip", "gzip, deflate"])
        key = (path, encoding)
        conditional = key in validators and ident.style != "never" and rnd.random() < 0.9
        headers = [f"Host: {server.host}:{server.port}", f"User-Agent: {ident.agent}",
                   f"Accept-Encoding: {encoding}"]
        if conditional:
            headers.append(validators[key])
        if ident.closes_each_time:
            headers.append("Connection: close")
        request = f"GET {path} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n"
        started = time.perf_counter()
        try:
            if conn is None:
                conn = await asyncio.wait_for(open_conn(server, ident.local), 10)
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
                stats.bad(f"{server.name} {path}: {type(e).__name__}: {e}")
            if conn is not None:
                conn[1].close()
            conn = None
            continue
        except ValueError as e:
            stats.bad(f"{server.name} {path}: {e}")
            conn[1].close()
            conn = None
            continue
        received = time.time()
        elapsed = time.perf_counter() - started
        server.answered += 1
        stats.responses += 1
        stats.by_status[status] = stats.by_status.get(status, 0) + 1
        stats.latencies.append(elapsed)
        stats.window.append(elapsed)
        if conditional:
            stats.conditional += 1
        if status in (200, 304) and path in FEEDS:
            server.expect.poll(path, ident.local, ident.agent, ident.aggregator, received, conditional)
        if status >= 500:
            stats.server_errors += 1
        elif status == 304:
            stats.not_modified += 1
            if not conditional:
                stats.bad(f"{server.name} {path}: 304 to an unconditional request")
            if "etag" not in resp_headers:
                stats.bad(f"{server.name} {path}: 304 without ETag")
        elif status == 200:
            if "etag" not in resp_headers:
                stats.bad(f"{server.name} {path}: 200 without ETag")
            elif ident.style == "since" and "last-modified" in resp_headers:
                validators[key] = f"If-Modified-Since: {resp_headers['last-modified']}"
            else:
                validators[key] = f"If-None-Match: {resp_headers['etag']}"
            try:
                found = check_body(path, body, resp_headers.get("content-encoding"))
            except Exception as e:  # noqa: BLE001 - any parse failure is a malformed body
                stats.bad(f"{server.name} {path}: body does not parse ({encoding}): {e}")
            else:
                if found is not None:
                    items.check(state, server, path, found, received)
        else:
            stats.bad(f"{server.name} {path}: unexpected status {status}")
        if ident.closes_each_time or resp_headers.get("connection", "").lower() == "close":
            conn[1].close()
            conn = None
        await asyncio.sleep(rnd.uniform(*poll_range))
    if conn is not None:
        conn[1].close()


async def h2_task(server, cafile, items, stop, work):
    """An HTTP/2 reader (curl) on the TLS server: conditional polls every 5 s."""
    etags = {}
    state = {}
    paths = ["/atom.xml", "/lang/fa/rss.xml"]
    body_file, head_file = os.path.join(work, "h2.body"), os.path.join(work, "h2.head")
    n = 0
    while not stop.is_set():
        path = paths[n % len(paths)]
        n += 1
        args = ["curl", "--http2", "-sS", "--max-time", "10", "--cacert", cafile,
                "--interface", H2_ADDR, "-A", H2_AGENT, "-o", body_file, "-D", head_file,
                "-w", "%{http_version} %{response_code}"]
        conditional = path in etags
        if conditional:
            args += ["-H", f"If-None-Match: {etags[path]}"]
        args.append(f"https://{server.host}:{server.port}{path}")
        proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        received = time.time()
        h2 = server.h2
        try:
            version, status = out.decode().split()
            status = int(status)
        except ValueError:
            h2["bad"] += 1
            if len(h2["examples"]) < 5:
                h2["examples"].append(f"{path}: curl {proc.returncode}: {err.decode()[:200]}")
            await asyncio.sleep(5)
            continue
        server.answered += 1
        h2["versions"][version] = h2["versions"].get(version, 0) + 1
        h2["polls"] += 1
        headers = {}
        with open(head_file, "rb") as f:
            for line in f.read().decode("latin-1").split("\r\n")[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
        problem = None
        if version != "2":
            problem = f"HTTP version {version}"
        elif status == 200:
            etags[path] = headers.get("etag", "")
            try:
                with open(body_file, "rb") as f:
                    found = check_body(path, f.read(), headers.get("content-encoding"))
                items.check(state, server, path, found, received)
            except Exception as e:  # noqa: BLE001 - any parse failure is a malformed body
                problem = f"body does not parse: {e}"
        elif status != 304 or not conditional:
            problem = f"status {status}"
        if status in (200, 304):
            server.expect.poll(path, H2_ADDR, H2_AGENT, None, received, conditional)
        if status >= 500:
            server.stats.server_errors += 1
        if problem:
            h2["bad"] += 1
            server.stats.bad(f"{server.name} HTTP/2 {path}: {problem}")
        try:
            await asyncio.wait_for(stop.wait(), 5)
        except asyncio.TimeoutError:
            pass


class Writer:
    """Adds, edits, re-scrapes and deletes articles: scraped and Markdown, English and Persian."""

    KINDS = [("txt", "en"), ("txt", "fa"), ("md", "en"), ("md", "fa")]
    FIRST = 500_000
    BASE = dt.datetime(2026, 11, 1, 8, 0)  # local time in Asia/Tehran (+03:30, no DST)

    def __init__(self, folder, id_prefix, seed):
        self.folder = folder
        self.id_prefix = id_prefix
        self.rnd = random.Random(seed)
        self.next = self.FIRST
        self.articles = {}  # number -> record
        self.by_guid = {}
        self.live = []  # numbers, oldest first
        self.counts = {"added": 0, "edited": 0, "rescraped": 0, "deleted": 0,
                       "md": 0, "txt": 0, "en": 0, "fa": 0}

    def text(self, rec):
        k, at = rec["number"], rec["at"]
        suffix = f" (edit {rec['edits']})" if rec["edits"] else ""
        if rec["lang"] == "fa":
            title = f"هشدار پلیس راهور درباره سفرهای زمستانی #{k}{suffix}"
            body = ("پلیس راهور از رانندگان خواست پیش از سفر به جاده‌های کوهستانی زنجیر چرخ، "
                    f"سوخت کافی و تلفن همراه شارژشده داشته باشند. نسخه {rec['edits']}.")
        else:
            title = f"Soak story #{k}{suffix}"
            body = f"A paragraph of soak story {k}, version {rec['edits']}, long enough to look like news."
        if rec["kind"] == "txt":
            return (f"Print  Send to Friend\n\n{at.day} {MONTH_NAMES[at.month - 1]} {at.year}\n\n"
                    f"{title}\n\n{body}\n\nAnother paragraph.\n\n"
                    f"{at:%H:%M} - {at:%Y/%m/%d} / number : {k} / Show Count : {rec['views']}\n")
        tags = '["Soak", "Roads"]' if rec["lang"] == "en" else f'["Soak", "{PERSIAN_TAG}"]'
        lines = ["+++", f'title = "{title}"', f"date = {at:%Y-%m-%dT%H:%M:%S}+03:30",
                 f'id = "{rec["id"]}"', f"tags = {tags}", 'author = "Soak desk"']
        if rec["lang"] == "fa":
            lines.append('language = "fa"')
        if rec["edits"]:
            lines.append(f"updated = {at + dt.timedelta(minutes=rec['edits']):%Y-%m-%dT%H:%M:%S}+03:30")
        return "\n".join(lines) + f"\n+++\n\n{body}\n\nAnother *paragraph*.\n"

    def write_atomic(self, rec):
        tmp = os.path.join(self.folder, "." + rec["name"] + ".tmp")
        with open(tmp, "w") as f:
            f.write(self.text(rec))
        os.replace(tmp, os.path.join(self.folder, rec["name"]))

    def add(self):
        self.next += 1
        k = self.next
        kind, lang = self.KINDS[k % 4]
        ident = str(k) if kind == "txt" else f"soak-md-{k}"
        rec = {"number": k, "kind": kind, "lang": lang, "id": ident, "guid": self.id_prefix + ident,
               "at": self.BASE + dt.timedelta(minutes=3 * (k - self.FIRST)), "edits": 0, "views": 1,
               "name": f"soak_{k}.{kind}", "deleted_at": None, "inplace_at": None}
        self.articles[k] = rec
        self.by_guid[rec["guid"]] = rec
        self.write_atomic(rec)
        self.live.append(k)
        for c in ("added", kind, lang):
            self.counts[c] += 1

    def step(self):
        self.add()
        recent = self.live[-40:]
        rec = self.articles[self.rnd.choice(recent)]
        rec["edits"] += 1
        self.write_atomic(rec)
        self.counts["edited"] += 1
        scraped = [k for k in recent if self.articles[k]["kind"] == "txt"]
        if scraped:
            rec = self.articles[self.rnd.choice(scraped)]
            rec["views"] += self.rnd.randint(1, 50)
            path = os.path.join(self.folder, rec["name"])
            with open(path) as f:
                text = f.read()
            head, sep, _ = text.rpartition("Show Count : ")
            rec["inplace_at"] = time.time()
            with open(path, "w") as f:  # in place, as a scraper that saves over the file
                f.write(f"{head}{sep}{rec['views']}\n")
            self.counts["rescraped"] += 1
        if len(self.live) > 60:
            k = self.rnd.choice(self.live[-60:])
            rec = self.articles[k]
            rec["deleted_at"] = time.time()
            os.remove(os.path.join(self.folder, rec["name"]))
            self.live.remove(k)
            self.counts["deleted"] += 1


async def writer_task(writer, stop, every):
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every)
        except asyncio.TimeoutError:
            writer.step()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def connections(port):
    """Established TCP connections whose local port is `port` (the server's side)."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                n += 1
    return n


def sample(server, started):
    window, server.stats.window = server.stats.window, []
    fds = fd_count(server.pid)
    return {
        "t": time.time() - started,
        "rss_kib": rss_kib(server.pid),
        "fds": fds,
        "conns": connections(server.port),
        "responses": server.stats.responses,
        "5xx": server.stats.server_errors,
        "malformed": server.stats.malformed,
        "p50_ms": pct(window, 0.5) * 1000,
        "p99_ms": pct(window, 0.99) * 1000,
    }


async def sampler(servers, stop, started, interval):
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except asyncio.TimeoutError:
            pass
        line = []
        for server in servers:
            s = sample(server, started)
            # The last sample, taken once the readers were told to stop, sees their
            # connections closing: it is shown but left out of the flatness rule.
            s["after_stop"] = stop.is_set()
            server.samples.append(s)
            line.append(f"{server.name} rss={s['rss_kib']}KiB fds={s['fds']} conns={s['conns']} "
                        f"responses={s['responses']} "
                        f"5xx={s['5xx']} malformed={s['malformed']} p50={s['p50_ms']:.1f}ms "
                        f"p99={s['p99_ms']:.1f}ms")
        print(f"  t={time.time() - started:6.0f}s " + " | ".join(line), flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


async def load_task(loads, stop, started):
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 600)
        except asyncio.TimeoutError:
            loads.append((time.time() - started, loadavg()))


METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


async def metrics_task(server, stop, every):
    m = server.metrics
    while True:
        try:
            status, _, body = await fetch(server, "/metrics", [f"Authorization: Bearer {server.token}"])
            if status != 200:
                raise ValueError(f"status {status}")
            values = {}
            for line in body.decode().splitlines():
                if not line or line.startswith("#"):
                    continue
                found = METRIC_LINE.match(line)
                if not found:
                    raise ValueError(f"bad line {line!r}")
                name, labels, value = found.groups()
                float(value)
                values[name + (labels or "")] = float(value)
                if name == "feedpub_responses_total" and re.search(r'status="5', labels or ""):
                    m["5xx"] = max(m["5xx"], float(value))
            m["last"] = values
            m["scrapes"] += 1
        except Exception as e:  # noqa: BLE001 - every failure of a scrape counts
            m["failed"] += 1
            if len(m["examples"]) < 5:
                m["examples"].append(f"{type(e).__name__}: {e}")
        if stop.is_set():
            return
        try:
            await asyncio.wait_for(stop.wait(), every)
        except asyncio.TimeoutError:
            pass


async def sighup_task(servers, stop, every):
    n = 0
    while True:
        try:
            await asyncio.wait_for(stop.wait(), every)
            return
        except asyncio.TimeoutError:
            pass
        n += 1
        for server in servers:
            log = os.path.join(server.dir, "access.log")
            if os.path.exists(log):
                os.rename(log, f"{log}.{n}")
            os.kill(server.pid, signal.SIGHUP)
            server.sighups += 1


class Mirror:
    """The access log of another mirror whose readers are known, imported every few minutes."""

    def __init__(self, work, feedpub, config, seed):
        self.work, self.feedpub, self.config = work, feedpub, config
        self.rnd = random.Random(seed)
        self.expect = Expected()
        self.files = []  # (path, poll lines, lines, malformed lines)
        self.runs = []  # (expected, got, ok, output)
        self.ok = True

    def make_log(self, since, until):
        rnd = self.rnd
        lines, polls, malformed = [], 0, 0

        def line(ip, when, method, path, status, agent):
            t = dt.datetime.fromtimestamp(when, dt.timezone.utc)
            stamp = f"{t.day:02}/{MONTHS[t.month - 1]}/{t.year}:{t:%H:%M:%S} +0000"
            size = 0 if status == 304 else 500 + zlib.crc32(f"{path}{int(when)}".encode()) % 90000
            return f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "-" "{agent}"'

        seen = set()

        def poll(ip, when, method, path, status, agent, aggregator=None):
            # Identical lines are one line to the import (a keyed hash per line): a client's
            # polls in one second with the same answer are moved a second on.
            nonlocal polls
            while line(ip, when, method, path, status, agent) in seen:
                when += 1
            text = line(ip, when, method, path, status, agent)
            seen.add(text)
            lines.append(text)
            polls += 1
            self.expect.poll(path, ip, agent, aggregator, when, status == 304)

        for c in range(30):
            ip = f"198.51.100.{c + 1}"
            agent = DIRECT_AGENTS[c % len(DIRECT_AGENTS)]
            feed = FEEDS[c % len(FEEDS)]
            for _ in range(rnd.randint(1, 6)):
                poll(ip, rnd.uniform(since, until), "GET", feed, rnd.choice([200, 304, 304]), agent)
        for j, feed in enumerate(FEEDS[:4]):
            n = 3 + j
            agent = f"Mozilla/5.0 (compatible; theoldreader.com; {n} subscribers; feed-id=tor{j})"
            for _ in range(3):
                poll("203.0.113.7", rnd.uniform(since, until), "GET", feed, 304, agent,
                     ("The Old Reader", f"tor{j}", n))
            fid = 7000 + j
            agent = f"Feedbin feed-id:{fid} - {20 + j} subscribers"
            poll("203.0.113.8", rnd.uniform(since, until), "HEAD", feed, 200, agent,
                 ("Feedbin", str(fid), 20 + j))
        # A Feedly report on this mirror, older than the live Feedly polls: the newest counts.
        poll("203.0.113.9", rnd.uniform(since, until), "GET", "/rss.xml", 200,
             "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 999 subscribers)", ("Feedly", "", 999))
        # Not polls: pages, redirects, errors, other methods.
        for path, status, method in [("/", 200, "GET"), ("/articles/500001.html", 200, "GET"),
                                     ("/feed", 301, "GET"), ("/rss.xml", 503, "GET"),
                                     ("/missing.xml", 404, "GET"), ("/atom.xml", 405, "POST"),
                                     ("/archive/rss/1.xml", 200, "GET")]:
            lines.append(line("198.51.100.200", rnd.uniform(since, until), method, path, status,
                              DIRECT_AGENTS[0]))
        for bad in ["this is not a log line", '198.51.100.1 - - [31/Foo/2026:00:00:00 +0000] "GET /rss.xml',
                    ""]:
            lines.insert(rnd.randrange(len(lines)), bad)
            malformed += 1
        rnd.shuffle(lines)
        path = os.path.join(self.work, f"mirror-{len(self.files) + 1}.log")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.files.append((path, polls, len(lines), malformed))

    async def run(self, since, until):
        self.make_log(since, until)
        files = self.files[-2:]
        proc = await asyncio.create_subprocess_exec(
            self.feedpub, "stats", "import", "--config", self.config, *[f[0] for f in files],
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out = (await proc.communicate())[0].decode()
        expected = {"polls": files[-1][1], "duplicates": sum(f[1] for f in files[:-1]),
                    "lines": sum(f[2] for f in files), "skipped": sum(f[3] for f in files),
                    "status": 0}
        got = {"status": proc.returncode}
        m = re.search(r"imported (\d+) poll\(s\) from (\d+) line\(s\).*?; (\d+) already imported", out)
        if m:
            got.update(polls=int(m.group(1)), lines=int(m.group(2)), duplicates=int(m.group(3)))
        m = re.search(r"(\d+) lines? skipped", out)
        got["skipped"] = int(m.group(1)) if m else 0
        ok = got == expected
        self.ok &= ok
        self.runs.append((expected, got, ok, out.strip()))


async def import_task(mirror, stop, every, started):
    last = started
    while True:
        try:
            await asyncio.wait_for(stop.wait(), every)
            return
        except asyncio.TimeoutError:
            pass
        now = time.time()
        await mirror.run(last, now - min(60, every / 4))
        last = now


def compare_stats(server, extra, reported):
    """Rows (feed, what, expected, reported, ok) and whether all agree."""
    expect = Expected()
    for source in [server.expect] + ([extra] if extra else []):
        expect.direct |= source.direct
        for key, value in source.aggregators.items():
            if key not in expect.aggregators or expect.aggregators[key][0] <= value[0]:
                expect.aggregators[key] = value
        for name, (p, c) in source.polls.items():
            e = expect.polls.setdefault(name, [0, 0])
            e[0] += p
            e[1] += c
    want = expect.figures()
    got = {norm_feed(f["path"]): f for f in reported.get("feeds", [])}
    rows, ok = [], True
    for feed in sorted(set(want) | set(got)):
        w = want.get(feed, {"direct": 0, "aggregators": {}, "subscribers": 0})
        g = got.get(feed, {"direct_clients": 0, "aggregators": [], "subscribers": 0})
        g_aggs = {a["name"]: a["subscribers"] for a in g["aggregators"]}
        for what, a, b in [("subscribers", w["subscribers"], g["subscribers"]),
                           ("direct clients", w["direct"], g["direct_clients"]),
                           ("aggregators", dict(sorted(w["aggregators"].items())), dict(sorted(g_aggs.items())))]:
            rows.append((feed, what, a, b, a == b))
            ok &= a == b
    total_want = sum(f["subscribers"] for f in want.values())
    rows.append(("(all)", "subscribers", total_want, reported.get("subscribers"),
                 total_want == reported.get("subscribers")))
    ok &= total_want == reported.get("subscribers")
    got_polls = {r["name"]: (r["polls"], round(r["polls"] * r["conditional_share"]))
                 for r in reported.get("readers", [])}
    for name in sorted(set(expect.polls) | set(got_polls)):
        a = tuple(expect.polls.get(name, (0, 0)))
        b = got_polls.get(name, (0, 0))
        rows.append((name, "polls / conditional", a, b, a == b))
        ok &= a == b
    dropped = reported.get("dropped_polls")
    rows.append(("(all)", "dropped polls", 0, dropped, dropped == 0))
    ok &= dropped == 0
    return rows, ok


def server_quantiles(server):
    """The histogram buckets of the last /metrics scrape that hold p50 and p99 of feed requests."""
    buckets = sorted(
        (float(re.search(r'le="([^"]+)"', k).group(1)), v)
        for k, v in server.metrics["last"].items()
        if k.startswith("feedpub_request_duration_seconds_bucket") and 'route="feed"' in k)
    if not buckets:
        return "-"
    total = buckets[-1][1]
    found = [next(le for le, n in buckets if n >= q * total) for q in (0.5, 0.99)]
    return " / ".join(f"≤ {le * 1000:.2f} ms" for le in found) + f" ({total:.0f} requests)"


def access_lines(server):
    n = 0
    for name in os.listdir(server.dir):
        if name == "access.log" or name.startswith("access.log."):
            with open(os.path.join(server.dir, name), "rb") as f:
                n += sum(1 for _ in f)
    return n


def flatness(samples, duration):
    # After a warm-up of a fifth of the run (at least one minute), and while the readers
    # run, RSS may not grow by more than 10 % + 4 MiB, descriptors by more than 20. (The
    # established connections are shown beside them, not subtracted: connections waiting
    # in the listen queue of a loaded machine are established without a descriptor.)
    warm = [s for s in samples if s["t"] >= max(60, duration / 5) and not s.get("after_stop")]
    if len(warm) >= 2:
        rss_growth = warm[-1]["rss_kib"] - min(s["rss_kib"] for s in warm)
        rss_flat = rss_growth <= 0.10 * warm[0]["rss_kib"] + 4096
        fd_range = max(s["fds"] for s in warm) - min(s["fds"] for s in warm)
        return rss_growth, rss_flat, fd_range, fd_range <= 20
    return 0, True, 0, True


async def wait_ready(servers, stop_after):
    """Waits until every feed answers 200 on every server (tag feeds need the first articles)."""
    deadline = time.time() + stop_after
    for server in servers:
        for path in FEEDS:
            while True:
                try:
                    status, _, _ = await fetch(server, path)
                except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                    status = None
                if status == 200:
                    break
                if time.time() > deadline:
                    raise SystemExit(f"{server.name}{path} did not answer 200 (last: {status})")
                await asyncio.sleep(0.2)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--feedpub", required=True)
    ap.add_argument("--articles", required=True)
    ap.add_argument("--plain", required=True)
    ap.add_argument("--plain-pid", type=int, required=True)
    ap.add_argument("--tls", required=True)
    ap.add_argument("--tls-pid", type=int, required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--id-prefix", required=True)
    ap.add_argument("--max-items", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--readers", type=int, default=200)
    ap.add_argument("--write-secs", type=float, default=2)
    ap.add_argument("--sighup-secs", type=float, default=300)
    ap.add_argument("--import-secs", type=float, default=600)
    ap.add_argument("--metrics-secs", type=float, default=15)
    ap.add_argument("--sample-secs", type=float, default=10)
    ap.add_argument("--poll-secs", default="0.05,0.5", help="pause between a reader's polls: MIN,MAX")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    poll_range = tuple(float(x) for x in args.poll_secs.split(","))
    tls = ssl.create_default_context(cafile=args.cafile)
    tls.set_alpn_protocols(["http/1.1"])
    plain = Server("plain", args.plain, args.plain_pid, os.environ["SOAK_PLAIN_TOKEN"], None, args.work)
    secure = Server("tls", args.tls, args.tls_pid, os.environ["SOAK_TLS_TOKEN"], tls, args.work)
    servers = [plain, secure]
    writer = Writer(args.articles, args.id_prefix, args.seed)
    items = Items(writer, args.max_items)
    mirror = Mirror(args.work, args.feedpub, os.path.join(plain.dir, "feedpub.toml"), args.seed)
    for _ in range(48):
        writer.add()
    await wait_ready(servers, 30)
    unauthorized = {}
    for server in servers:
        status, headers, _ = await fetch(server, "/metrics")
        unauthorized[server.name] = (status, headers.get("www-authenticate"))

    stop, half = asyncio.Event(), asyncio.Event()
    loads = []
    started = time.time()
    loads.append((0, loadavg()))
    for server in servers:
        server.samples.append(sample(server, started))
    rnd = random.Random(args.seed)
    identities = [Identity(i, rnd, servers) for i in range(args.readers)]
    tasks = [asyncio.create_task(reader_task(ident, items, stop, half, args.seed * 1000 + i, poll_range))
             for i, ident in enumerate(identities)]
    tasks.append(asyncio.create_task(h2_task(secure, args.cafile, items, stop, args.work)))
    tasks.append(asyncio.create_task(writer_task(writer, stop, args.write_secs)))
    tasks.append(asyncio.create_task(sampler(servers, stop, started, args.sample_secs)))
    tasks.append(asyncio.create_task(load_task(loads, stop, started)))
    tasks.append(asyncio.create_task(sighup_task(servers, stop, args.sighup_secs)))
    tasks.append(asyncio.create_task(import_task(mirror, stop, args.import_secs, started)))
    tasks += [asyncio.create_task(metrics_task(s, stop, args.metrics_secs)) for s in servers]
    await asyncio.sleep(args.minutes * 30)
    half.set()
    await asyncio.sleep(args.minutes * 30)
    stop.set()
    await asyncio.wait(tasks, timeout=30)
    duration = time.time() - started
    loads.append((duration, loadavg()))
    # The statistics writer writes once a second, the access log every 50 ms.
    await asyncio.sleep(3)
    reported = {}
    for server in servers:
        status, _, body = await fetch(server, "/stats.json", [f"Authorization: Bearer {server.token}"])
        reported[server.name] = json.loads(body) if status == 200 else {"status": status}
    await asyncio.sleep(1)
    logged = {s.name: access_lines(s) for s in servers}

    print()
    print(f"## Soak: {duration / 60:.1f} minutes, {args.readers} readers (plain / TLS)")
    print()
    print("| figure | plain | TLS |")
    print("|---|---|---|")

    def row(name, f):
        print(f"| {name} | " + " | ".join(f(s) for s in servers) + " |")

    row("responses", lambda s: f"{s.stats.responses} ({s.stats.responses / duration:.0f}/s)")
    row("by status", lambda s: str(dict(sorted(s.stats.by_status.items()))))
    row("5xx", lambda s: str(s.stats.server_errors))
    row("malformed", lambda s: str(s.stats.malformed))
    row("conditional requests", lambda s: f"{s.stats.conditional} "
        f"({s.stats.conditional / max(1, s.stats.responses):.1%})")
    row("304 share", lambda s: f"{s.stats.not_modified / max(1, s.stats.responses):.1%}")
    row("latency p50 / p99 / max", lambda s: f"{pct(s.stats.latencies, 0.5) * 1000:.2f} / "
        f"{pct(s.stats.latencies, 0.99) * 1000:.2f} / {max(s.stats.latencies, default=0) * 1000:.1f} ms")
    row("connections opened / connect errors", lambda s: f"{s.stats.reconnects} / {s.stats.connect_errors}")
    row("HTTP/2 polls (curl): versions / bad", lambda s: f"{s.h2['polls']}: {s.h2['versions']} / {s.h2['bad']}"
        if s.tls else "-")
    flat = {}
    for s in servers:
        flat[s.name] = flatness(s.samples, duration)
    row("server RSS first / last / max", lambda s: f"{s.samples[0]['rss_kib']} / {s.samples[-1]['rss_kib']} / "
        f"{max(x['rss_kib'] for x in s.samples)} KiB (growth after warm-up {flat[s.name][0]} KiB: "
        f"{'flat' if flat[s.name][1] else 'GROWING'})")
    row("server fds first / last / max", lambda s: f"{s.samples[0]['fds']} / {s.samples[-1]['fds']} / "
        f"{max(x['fds'] for x in s.samples)}; established connections max "
        f"{max(x['conns'] for x in s.samples)} (fds range after warm-up {flat[s.name][2]}: "
        f"{'flat' if flat[s.name][3] else 'GROWING'})")
    row("server-side duration of feed requests p50 / p99 (histogram bucket)", server_quantiles)
    row(f"SIGHUPs (every {args.sighup_secs:g} s, access log renamed first)", lambda s: str(s.sighups))
    row("/metrics scrapes ok / failed / 5xx counted", lambda s: f"{s.metrics['scrapes']} / "
        f"{s.metrics['failed']} / {s.metrics['5xx']:.0f}")
    row("/metrics without token", lambda s: f"{unauthorized[s.name][0]} "
        f"(WWW-Authenticate: {unauthorized[s.name][1]})")
    row("metrics: open connections at the end", lambda s: str(
        s.metrics["last"].get("feedpub_open_connections")))
    row("metrics: access log lines dropped", lambda s: str(
        s.metrics["last"].get("feedpub_access_log_dropped_lines_total")))
    regenerations = 'feedpub_regenerations_total{outcome="%s"}'
    row("metrics: regenerations changed / unchanged / failed", lambda s: " / ".join(
        "%.0f" % s.metrics["last"].get(regenerations % o, 0) for o in ("changed", "unchanged", "failed")))
    row("access log lines / responses answered", lambda s: f"{logged[s.name]} / {s.answered}"
        f"{'' if logged[s.name] == s.answered else ' (DIFFER)'}")
    print()
    print("| figure | value |")
    print("|---|---|")
    print(f"| feed documents checked / items | {items.documents} / {items.items} |")
    print(f"| duplicate items in one document | {items.duplicates} |")
    print(f"| re-identified items | {items.reidentified} |")
    print(f"| vanished items | {items.vanished} |")
    print(f"| items that left a feed: deleted / pushed out by newer | {items.left_deleted} / "
          f"{items.left_pushed_out} |")
    print(f"| items seen without their text (a file changed under the server; not an error) | "
          f"{items.without_text} |")
    c = writer.counts
    print(f"| writer: added / edited / re-scraped / deleted | {c['added']} / {c['edited']} / "
          f"{c['rescraped']} / {c['deleted']} (every {args.write_secs:g} s; 48 added before the "
          f"readers started) |")
    print(f"| writer: scraped / Markdown, English / Persian (added) | {c['txt']} / {c['md']}, "
          f"{c['en']} / {c['fa']} |")
    print(f"| stats imports (every {args.import_secs:g} s) as expected | "
          f"{sum(1 for r in mirror.runs if r[2])} of {len(mirror.runs)} |")
    print(f"| load average (1/5/15 min) | " + "; ".join(f"{t / 60:.0f} min: {la}" for t, la in loads) + " |")

    stats_ok = True
    print()
    print("### Statistics against what the readers did")
    print()
    print("Expected: per feed, the distinct (address, User-Agent) pairs of direct readers whose")
    print("polls (GET of a feed answered 200 or 304) the load generator saw, plus the last count")
    print("of each aggregator subscription; polls and conditional polls per reader name. The")
    print("plain server's figures include the imported mirror log.")
    for server in servers:
        rep = reported[server.name]
        print()
        print(f"{server.name} (`/stats.json`):")
        print()
        if "feeds" not in rep:
            print(f"    /stats.json answered {rep}")
            stats_ok = False
            continue
        rows, ok = compare_stats(server, mirror.expect if server is plain else None, rep)
        stats_ok &= ok
        print("| feed or reader | figure | expected | reported | |")
        print("|---|---|---|---|---|")
        for feed, what, a, b, good in rows:
            print(f"| {feed} | {what} | {a} | {b} | {'ok' if good else '**DIFFERS**'} |")
    if mirror.runs:
        print()
        print("### Imports")
        print()
        for i, (expected, got, ok, out) in enumerate(mirror.runs, 1):
            print(f"- import {i}: {'ok' if ok else '**DIFFERS**'}: expected {expected}, got {got}")
            if not ok:
                print(f"  output: {out[:400]!r}")

    print()
    print("Samples (every %gs): t, then per server (plain, TLS): RSS KiB, fds, established "
          "connections, responses, client-side p50 ms, p99 ms" % args.sample_secs)
    print()
    for a, b in zip(plain.samples, secure.samples):
        print(f"    {a['t']:7.0f}  {a['rss_kib']:8d} {a['fds']:5d} {a['conns']:5d} {a['responses']:9d} "
              f"{a['p50_ms']:7.2f} {a['p99_ms']:7.2f}   {b['rss_kib']:8d} {b['fds']:5d} {b['conns']:5d} "
              f"{b['responses']:9d} {b['p50_ms']:7.2f} {b['p99_ms']:7.2f}")
    for s in servers:
        for example in s.stats.malformed_examples:
            print(f"malformed: {example}")
        for example in s.metrics["examples"]:
            print(f"metrics {s.name}: {example}")
        for example in s.h2["examples"]:
            print(f"HTTP/2 {s.name}: {example}")
    for example in items.examples:
        print(f"item: {example}")
    ok = (all(s.stats.server_errors == 0 and s.stats.malformed == 0 and flat[s.name][1] and flat[s.name][3]
              and s.metrics["failed"] == 0 and s.metrics["5xx"] == 0 and logged[s.name] == s.answered
              and s.h2["bad"] == 0 for s in servers)
          and items.duplicates == 0 and items.vanished == 0 and items.reidentified == 0
          and stats_ok and mirror.ok and (mirror.runs or duration < args.import_secs + 30))
    print()
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
