"""OPML in and out: the feed-list format every reader exports.

`import_opml` adds the outlines that carry an `xmlUrl` to the config's
`[[feeds]]` with tomlkit, so the user's comments and layout survive; feeds
whose URL is already configured are skipped. OPML files come from other
programs (and strangers): they are parsed with defusedxml, which refuses
entity expansion and external references.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement, tostring

import tomlkit
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError as XMLParseError
from defusedxml.ElementTree import fromstring

from monitor.cli.common import EXIT_OK, config_path
from monitor.config import FeedSettings, load
from monitor.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Outline:
    url: str
    name: str
    tags: tuple[str, ...]


def read_opml(data: bytes, source: str = "OPML") -> list[Outline]:
    """Feeds of an OPML document; categories (parent outlines) become tags."""
    try:
        root = fromstring(data)
    except (XMLParseError, DefusedXmlException) as exc:
        raise ConfigError(f"{source}: not a usable OPML file: {exc}") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise ConfigError(f"{source}: not an OPML file (no <opml><body>)")
    found: list[Outline] = []
    _walk(body, (), found)
    return found


def _walk(node: Element, tags: tuple[str, ...], found: list[Outline]) -> None:
    for outline in node.findall("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        label = (outline.get("title") or outline.get("text") or "").strip()
        if url:
            found.append(Outline(url, label or url, tags))
        else:
            _walk(outline, (*tags, label) if label else tags, found)


def import_opml(config: Path, data: bytes, source: str) -> list[Outline]:
    """Append the OPML's feeds to `config`; returns the ones added."""
    document = tomlkit.parse(config.read_text(encoding="utf-8"))
    feeds = document.get("feeds")
    if feeds is None:
        feeds = tomlkit.aot()
        document["feeds"] = feeds
    known = {str(f.get("url")) for f in feeds}
    names = {str(f.get("name")) for f in feeds}
    added = []
    for outline in read_opml(data, source):
        if outline.url in known:
            continue
        table = tomlkit.table()
        table["name"] = _unique(outline.name, names)
        table["url"] = outline.url
        if outline.tags:
            table["tags"] = list(outline.tags)
        feeds.append(table)
        known.add(outline.url)
        names.add(str(table["name"]))
        added.append(outline)
    _write_atomically(config, tomlkit.dumps(document))
    return added


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


def _write_atomically(path: Path, text: str) -> None:
    # A half-written config would stop the next reload: write beside, then rename.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def export_opml(feeds: Sequence[FeedSettings], title: str = "newsmonitor feeds") -> bytes:
    """An OPML 2.0 document listing `feeds` (http ones; local files are not portable)."""
    root = Element("opml", version="2.0")
    SubElement(SubElement(root, "head"), "title").text = title
    body = SubElement(root, "body")
    for feed in feeds:
        if feed.url.startswith(("http://", "https://")):
            SubElement(body, "outline", type="rss", text=feed.name, title=feed.name,
                       xmlUrl=feed.url)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode").encode()


def cmd_import_opml(args: argparse.Namespace) -> int:
    path = config_path(args)
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{args.file}: cannot read: {exc.strerror}") from None
    added = import_opml(path, data, args.file)
    for outline in added:
        print(f"added: {outline.name} <{outline.url}>")
    print(f"{len(added)} feeds added to {path}")
    load(path)  # what we wrote must load; raises (exit 1) naming the problem otherwise
    return EXIT_OK


def cmd_export_opml(args: argparse.Namespace) -> int:
    sys.stdout.write(export_opml(load(config_path(args)).feeds).decode())
    return EXIT_OK
