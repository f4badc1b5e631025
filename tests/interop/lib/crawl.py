#!/usr/bin/env python3
"""Checks of a static web server serving the output of `feedpub build`.

    crawl.py crawl BASE SITE [--loose-types]  every link found from / and the feeds answers 200,
                                              no redirect, the Content-Type `serve` sends for
                                              that path (--loose-types: any feed, XML, JSON or
                                              HTML type); every page and feed file of SITE is
                                              reached
    crawl.py archive BASE SITE PREFIX         walking prev-archive from rss.xml and from atom.xml
                                              reaches the id of every article page of SITE, and
                                              no other id
    crawl.py encodings BASE SITE              br and gzip answers are SITE's NAME.br / NAME.gz,
                                              which decompress to NAME; each encoding has its
                                              own ETag; Vary: Accept-Encoding on all three
    crawl.py conditional BASE SITE            304 on the server's own ETag and on its
                                              Last-Modified, for each encoding
    crawl.py aliases BASE                     the old feed names answer 301 to the right place
    crawl.py private BASE SITE                every file of SITE with a dot in a path component,
                                              _headers, _redirects and the .gz/.br files by
                                              their own names answer 404
    crawl.py headers BASE SITE                every page and feed of SITE: Content-Type,
                                              Cache-Control, nosniff, CSP and Referrer-Policy as
                                              `serve` sends them; nosniff on 301 and 404 too

Python 3 standard library (and the `brotli` command for `encodings`). Exits 1 with one line
per problem.
"""

import gzip
import html.parser
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections import deque

ATOM = "{http://www.w3.org/2005/Atom}"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_TYPE = "application/feed+json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
OPML_TYPE = "text/x-opml; charset=utf-8"
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag, Last-Modified, Link"}
FRESH = "public, max-age=300, stale-while-revalidate=60, stale-if-error=86400"  # cache_max_age's default: feeds, the index, article pages
ARCHIVED = "public, max-age=86400, stale-while-revalidate=60, stale-if-error=86400"  # archive_max_age's default: archive and history pages
# A stock server maps .xml and .json by extension only, and has no type for .opml (its
# default type then).
LOOSE_TYPES = {"text/xml", "application/xml", "application/json", "text/html"}
LOOSE_OPML = {"text/plain", "application/octet-stream"}
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
NOT_SITE = ("_headers", "_redirects")  # files for static hosts, not pages of the site


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def get(url, headers=None):
    """(status, headers, body) of a GET that follows no redirect."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with OPENER.open(request, timeout=20) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def url_of(base, path):
    """The URL of a request path that may hold non-ASCII characters (a Persian tag slug)."""
    return base + urllib.parse.quote(path)


def expected(path):
    """(Content-Type, Cache-Control) that `serve` sends for a request path (unquoted)."""
    if path == "/":
        return HTML_TYPE, FRESH
    if re.fullmatch(r"/archive/rss/[^/]+\.xml", path):
        return RSS_TYPE, ARCHIVED
    if re.fullmatch(r"/archive/atom/[^/]+\.xml", path):
        return ATOM_TYPE, ARCHIVED
    if re.fullmatch(r"/archive/[^/]+\.html", path):
        return HTML_TYPE, ARCHIVED
    if re.fullmatch(r"(/(tags|lang)/[^/]+)?/rss\.xml", path):
        return RSS_TYPE, FRESH
    if re.fullmatch(r"(/(tags|lang)/[^/]+)?/atom\.xml", path):
        return ATOM_TYPE, FRESH
    if re.fullmatch(r"(/(tags|lang)/[^/]+)?/feed\.json", path):
        return JSON_TYPE, FRESH
    if path == "/feeds.opml":
        return OPML_TYPE, FRESH
    if re.fullmatch(r"/articles/[^/]+\.html", path):
        return HTML_TYPE, FRESH
    return None, None


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "href" and value:
                self.links.append(value)


def links_of(content_type, body):
    """Every link of an HTML page (href), a JSON Feed (url, home_page_url, feed_url, next_url),
    an RSS or Atom document (<link> text, <link href>, <atom:link href>) or an OPML list
    (<outline xmlUrl>)."""
    if content_type.startswith("text/html"):
        parser = Links()
        parser.feed(body.decode("utf-8"))
        return parser.links
    if "json" in content_type:
        doc = json.loads(body)
        found = [doc.get("home_page_url"), doc.get("feed_url"), doc.get("next_url")]
        found += [item.get("url") for item in doc.get("items", [])]
        return [f for f in found if f]
    root = ET.fromstring(body)
    found = []
    for element in root.iter():
        if element.tag == "link" and element.text and element.text.strip():
            found.append(element.text.strip())
        if element.tag in ("link", ATOM + "link") and element.get("href"):
            found.append(element.get("href"))
        if element.tag == "outline" and element.get("xmlUrl"):
            found.append(element.get("xmlUrl"))
    return found


def site_files(site):
    """The page and feed files of SITE, as request paths (unquoted)."""
    paths = set()
    for folder, dirs, files in os.walk(site):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or name.endswith((".gz", ".br")) or name in NOT_SITE:
                continue
            relative = os.path.relpath(os.path.join(folder, name), site).replace(os.sep, "/")
            paths.add("/" if relative == "index.html" else "/" + relative)
    return paths


def crawl(base, site, loose=False):
    origin = urllib.parse.urlsplit(base)
    problems, reached = [], set()
    queue = deque((base + p, "(start)") for p in ("/", "/rss.xml", "/atom.xml", "/feed.json"))
    seen = {u for u, _ in queue}
    while queue:
        url, source = queue.popleft()
        status, headers, body = get(url)
        if status != 200:
            problems.append(f"{url} (from {source}): {status} {headers.get('Location', '')}")
            continue
        path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
        content_type = headers.get("Content-Type", "")
        want, _ = expected(path)
        if loose:
            loose_types = LOOSE_TYPES | (LOOSE_OPML if path.endswith(".opml") else set())
            if content_type not in loose_types | {want} and content_type.split(";")[0] not in loose_types:
                problems.append(f"{url} (from {source}): Content-Type {content_type!r}")
                continue
        elif content_type != want:
            problems.append(f"{url} (from {source}): Content-Type {content_type!r}, not {want!r}")
            continue
        reached.add(path)
        try:
            found = links_of(content_type, body)
        except Exception as e:  # noqa: BLE001 - reported as a problem
            problems.append(f"{url}: unreadable {content_type}: {e}")
            continue
        for link in found:
            target = urllib.parse.urljoin(url, link)
            parts = urllib.parse.urlsplit(target)
            if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
                continue
            target = urllib.parse.urlunsplit(parts._replace(fragment=""))
            if target not in seen:
                seen.add(target)
                queue.append((target, url))
    unreached = site_files(site) - reached
    if unreached:
        problems.append(f"files no link reaches: {sorted(unreached)}")
    print(f"reached {len(reached)} URLs of {len(site_files(site))} files")
    return problems


def entry_ids(body):
    """The ids of a document's entries: RSS item guids, Atom entry ids (not the feed's id)."""
    root = ET.fromstring(body)
    ids = [g.text for g in root.iterfind("./channel/item/guid")]
    ids += [i.text for i in root.iterfind(f"./{ATOM}entry/{ATOM}id")]
    return [i.strip() for i in ids if i]


def prev_archive(body):
    for element in ET.fromstring(body).iter():
        if element.tag in ("link", ATOM + "link") and element.get("rel") == "prev-archive":
            return element.get("href")
    return None


def archive(base, site, prefix):
    """Walks prev-archive from each subscription feed; the ids found are the article pages'."""
    problems = []
    folder = os.path.join(site, "articles")
    pages = {urllib.parse.unquote(n[: -len(".html")]) for n in os.listdir(folder) if n.endswith(".html")}
    for feed in ("rss.xml", "atom.xml"):
        ids, url, visited = set(), f"{base}/{feed}", []
        while url:
            if url in visited or len(visited) > 1000:
                problems.append(f"{feed}: prev-archive loops at {url}")
                break
            visited.append(url)
            if not url.startswith(base + "/"):
                problems.append(f"{feed}: prev-archive leaves the site: {url}")
                break
            status, headers, body = get(url)
            if status != 200:
                problems.append(f"{url}: {status} {headers.get('Location', '')}")
                break
            ids.update(entry_ids(body))
            url = prev_archive(body)
        foreign = sorted(i for i in ids if not i.startswith(prefix))
        found = {i[len(prefix):] for i in ids if i.startswith(prefix)}
        print(f"{feed}: {len(visited)} documents, {len(found)} distinct ids, {len(pages)} article pages")
        if foreign:
            problems.append(f"{feed}: ids without the prefix {prefix}: {foreign[:10]}")
        if pages - found:
            problems.append(f"{feed}: the walk misses {sorted(pages - found)}")
        if found - pages:
            problems.append(f"{feed}: the walk finds ids with no article page: {sorted(found - pages)}")
    return problems


def decompress(coding, data):
    if coding == "gzip":
        return gzip.decompress(data)
    return subprocess.run(["brotli", "-d", "-c"], input=data, capture_output=True, check=True).stdout


def first_article(site):
    """The request path of one article page of SITE (the first file name)."""
    names = sorted(n for n in os.listdir(os.path.join(site, "articles")) if n.endswith(".html"))
    return "/articles/" + urllib.parse.unquote(names[0])


def samples(site):
    """(request path, file) of a feed of each format, the index and an article page."""
    article = first_article(site)
    return [("/rss.xml", "rss.xml"), ("/atom.xml", "atom.xml"), ("/feed.json", "feed.json"),
            ("/", "index.html"), (article, article[1:])]


def varies(headers):
    """Whether the answer says `Vary: Accept-Encoding` (among other fields, maybe)."""
    fields = ",".join(headers.get_all("Vary") or []).split(",")
    return "accept-encoding" in (f.strip().lower() for f in fields)


def encodings(base, site):
    problems = []
    for path, file in samples(site):
        plain = open(os.path.join(site, file), "rb").read()
        tags = {}
        status, headers, body = get(url_of(base, path), {"Accept-Encoding": "identity"})
        tags["identity"] = headers.get("ETag")
        if status != 200 or body != plain or headers.get("Content-Encoding"):
            problems.append(f"{path} identity: {status}, Content-Encoding "
                            f"{headers.get('Content-Encoding')}, {len(body)} bytes, not {file}")
        elif not varies(headers):
            # A cache that stored this answer without Vary would give it to every client.
            problems.append(f"{path} identity: Vary is {headers.get_all('Vary')}")
        for coding, suffix in (("br", "br"), ("gzip", "gz")):
            status, headers, body = get(url_of(base, path), {"Accept-Encoding": coding})
            on_disk = open(os.path.join(site, f"{file}.{suffix}"), "rb").read()
            tags[coding] = headers.get("ETag")
            if status != 200 or headers.get("Content-Encoding") != coding:
                problems.append(f"{path} {coding}: {status}, Content-Encoding {headers.get('Content-Encoding')}")
            elif body != on_disk:
                problems.append(f"{path} {coding}: not the bytes of {file}.{suffix}")
            elif decompress(coding, body) != plain:
                problems.append(f"{path} {coding}: does not decompress to {file}")
            elif not varies(headers):
                problems.append(f"{path} {coding}: Vary is {headers.get_all('Vary')}")
            else:
                print(f"{path} {coding}: {len(body)} bytes = {file}.{suffix} -> {len(plain)} bytes")
        # One strong ETag per representation: a cache must never mix the encodings.
        if None in tags.values() or len(set(tags.values())) != len(tags):
            problems.append(f"{path}: ETags per encoding are {tags}, not three different ones")
        else:
            print(f"{path}: ETags {tags}")
    return problems


def conditional(base, site):
    problems = []
    for path, _ in samples(site):
        for encoding in ("identity", "gzip", "br"):
            url = url_of(base, path)
            status, headers, _ = get(url, {"Accept-Encoding": encoding})
            etag, modified = headers.get("ETag"), headers.get("Last-Modified")
            if status != 200 or not etag or not modified:
                problems.append(f"{path} ({encoding}): {status}, ETag {etag}, Last-Modified {modified}")
                continue
            for name, value in (("If-None-Match", etag), ("If-Modified-Since", modified)):
                again, h, body = get(url, {name: value, "Accept-Encoding": encoding})
                if again != 304 or body:
                    problems.append(f"{path} ({encoding}) {name}: {value}: {again}, {len(body)} bytes")
                elif h.get("ETag") not in (None, etag):
                    problems.append(f"{path} ({encoding}) {name}: 304 with ETag {h.get('ETag')}, not {etag}")
                else:
                    print(f"{path} ({encoding}) {name}: {value}: 304")
            stale, _, _ = get(url, {"If-None-Match": '"stale-tag"', "Accept-Encoding": encoding})
            if stale != 200:
                problems.append(f"{path} ({encoding}) If-None-Match: \"stale-tag\": {stale}, not 200")
    return problems


ALIASES = [("/index.html", "/"), ("/rss", "/rss.xml"), ("/feed", "/rss.xml"), ("/feed/", "/rss.xml"),
           ("/rss/", "/rss.xml"), ("/feed.xml", "/rss.xml"), ("/atom", "/atom.xml"), ("/atom/", "/atom.xml")]


def aliases(base):
    problems = []
    for source, target in ALIASES:
        status, headers, _ = get(base + source)
        location = urllib.parse.urljoin(base + source, headers.get("Location", ""))
        if status != 301 or location != base + target:
            problems.append(f"{source}: {status} to {location}, not 301 to {base + target}")
        else:
            print(f"{source}: 301 to {headers.get('Location')}")
    return problems


def private_files(site):
    """Request paths of SITE's files that are not part of the site, all present on disk."""
    paths = []
    for folder, dirs, files in os.walk(site):
        for name in files:
            relative = "/" + os.path.relpath(os.path.join(folder, name), site).replace(os.sep, "/")
            if "/." in relative or relative[1:] in NOT_SITE:
                paths.append(relative)
    for name in ("rss.xml.gz", "rss.xml.br", "index.html.gz"):
        if os.path.exists(os.path.join(site, name)):
            paths.append("/" + name)
    return sorted(paths)


def private(base, site):
    problems = []
    paths = private_files(site)
    if not any(p.endswith(".tmp") for p in paths) or "/.feedpub-manifest" not in paths:
        problems.append(f"the site has no temporary file or no manifest to ask for: {paths}")
    for path in paths:
        status, _, body = get(url_of(base, path))
        if status != 404:
            problems.append(f"{path}: {status}, not 404 ({len(body)} bytes)")
        else:
            print(f"{path}: 404")
    return problems


def headers(base, site):
    problems = []
    paths = sorted(site_files(site))
    for path in paths:
        content_type, cache = expected(path)
        if content_type is None:
            problems.append(f"{path}: a file of the site that `serve` does not answer")
            continue
        status, h, _ = get(url_of(base, path))
        want = {"Content-Type": content_type, "Cache-Control": cache, "X-Content-Type-Options": "nosniff", **CORS}
        if content_type == HTML_TYPE:
            want["Content-Security-Policy"] = CSP
            want["Referrer-Policy"] = "no-referrer"
        for name, value in want.items():
            if h.get_all(name) != [value]:
                problems.append(f"{path}: {name} is {h.get_all(name)}, not [{value!r}]")
        if status != 200:
            problems.append(f"{path}: {status}")
    # The answers that are not files: serve marks them nosniff too.
    for path, status_wanted in (("/rss", 301), ("/no-such-page.html", 404)):
        status, h, _ = get(base + path)
        if status != status_wanted or h.get_all("X-Content-Type-Options") != ["nosniff"]:
            problems.append(f"{path}: {status}, X-Content-Type-Options {h.get_all('X-Content-Type-Options')}")
    print(f"{len(paths)} pages and feeds, and a 301 and a 404, checked")
    return problems


def main(argv):
    command, base = argv[1], argv[2].rstrip("/")
    rest = argv[3:]
    if command == "crawl":
        problems = crawl(base, rest[0], loose="--loose-types" in rest)
    elif command == "archive":
        problems = archive(base, rest[0], rest[1])
    elif command == "aliases":
        problems = aliases(base)
    else:
        problems = {"encodings": encodings, "conditional": conditional, "private": private,
                    "headers": headers}[command](base, rest[0])
    for problem in problems:
        print("FAIL:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
