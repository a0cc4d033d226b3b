#!/usr/bin/env python3
"""Prints every same-origin target reachable from /index.html of a static site
on disk by <a href> and <area href> (what a crawler follows), one per line as a
request target. HTML files are read for more links; anything else (or a
missing file) ends the path. Used by the docs and javadoc benchmarks to say
how many pages a complete crawl must store.

usage: bench/reachable.py ROOT
"""
import html.parser, os, sys, urllib.parse

root = os.path.realpath(sys.argv[1])
origin = "http://site.invalid"

class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []
        self.base = None
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "base" and self.base is None and attrs.get("href"):
            self.base = attrs["href"].strip()
        if tag in ("a", "area") and attrs.get("href") is not None:
            self.hrefs.append(attrs["href"].strip())

def file_for(path):
    local = os.path.realpath(os.path.join(root, urllib.parse.unquote(path).lstrip("/")))
    if os.path.isdir(local):
        local = os.path.join(local, "index.html")
    return local

seen, todo = set(), ["/index.html"]
while todo:
    target = todo.pop()
    if target in seen:
        continue
    seen.add(target)
    local = file_for(urllib.parse.urlsplit(target).path)
    if not local.endswith((".html", ".htm")) or not os.path.isfile(local):
        continue
    parser = Links()
    with open(local, encoding="utf-8", errors="replace") as f:
        parser.feed(f.read())
    base = urllib.parse.urljoin(origin + target, parser.base or "")
    for href in parser.hrefs:
        url = urllib.parse.urldefrag(urllib.parse.urljoin(base, href)).url
        parts = urllib.parse.urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != origin:
            continue
        todo.append(parts.path + ("?" + parts.query if parts.query else ""))
for target in sorted(seen):
    print(target)
