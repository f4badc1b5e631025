#!/usr/bin/python3
"""A tiny HTTP server for the self-test: serves a folder of feeds on 127.0.0.1.

    static_server.py DIR [--ignore-conditionals] [--max-age N]

Prints `serving on http://127.0.0.1:PORT` (port chosen by the system) once it listens.
Answers GET and HEAD with a strong ETag (a hash of the bytes), Last-Modified (the file's
modification time) and `Cache-Control: public, max-age=N`. By default it honours
If-None-Match and If-Modified-Since with 304, as a feed server should; with
--ignore-conditionals it always answers 200, like a server that ignores validators.
Stops on SIGTERM.
"""

import argparse
import email.utils
import hashlib
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TYPES = {
    ".xml": "application/xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}


def make_handler(root, ignore, max_age):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("%s status=%s\n" % (self.requestline, args[1] if len(args) > 1 else "?"))

        def do_HEAD(self):
            self.serve(body=False)

        def do_GET(self):
            self.serve(body=True)

        def serve(self, body):
            name = self.path.split("?", 1)[0].lstrip("/") or "index.html"
            path = os.path.realpath(os.path.join(root, name))
            if not path.startswith(root + os.sep) or not os.path.isfile(path):
                data = b"not found\n"
                self.send_response(404)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)
                return
            with open(path, "rb") as f:
                data = f.read()
            etag = '"%s"' % hashlib.sha256(data).hexdigest()[:32]
            mtime = int(os.path.getmtime(path))
            last_modified = email.utils.formatdate(mtime, usegmt=True)
            status = 200
            if not ignore:
                inm = self.headers.get("If-None-Match")
                ims = self.headers.get("If-Modified-Since")
                if inm is not None:
                    tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
                    if etag in tags or "*" in tags:
                        status = 304
                elif ims:
                    try:
                        since = email.utils.parsedate_to_datetime(ims).timestamp()
                        if mtime <= since:
                            status = 304
                    except (TypeError, ValueError):
                        pass
            self.send_response(status)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            self.send_header("Cache-Control", f"public, max-age={max_age}")
            if status == 200:
                ext = os.path.splitext(path)[1]
                ctype = TYPES.get(ext, "application/octet-stream")
                if name.endswith("rss.xml"):
                    ctype = "application/rss+xml; charset=utf-8"
                elif name.endswith("atom.xml"):
                    ctype = "application/atom+xml; charset=utf-8"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body and status == 200:
                self.wfile.write(data)

    return Handler


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--ignore-conditionals", action="store_true")
    p.add_argument("--max-age", type=int, default=2)
    a = p.parse_args()
    root = os.path.realpath(a.dir)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(root, a.ignore_conditionals, a.max_age))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"serving on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
