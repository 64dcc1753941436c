"""OPML in and out: the feed-list format every reader exports.

`import_opml` adds the outlines that carry an `xmlUrl` to the config's
`[[feeds]]` (cli.configfile: comments kept; feeds whose URL is already
configured, and outlines without a URL, are skipped and said so). OPML files come from other
programs (and strangers): they are parsed with defusedxml, which refuses
entity expansion and external references.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError as XMLParseError
from defusedxml.ElementTree import fromstring

from monitor.cli.common import EXIT_OK, config_path
from monitor.cli.configfile import Added, NewFeed, add_feeds
from monitor.config import FeedSettings, load
from monitor.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Outline:
    url: str
    name: str
    tags: tuple[str, ...]


def read_opml(data: bytes, source: str = "OPML") -> tuple[list[Outline], list[str]]:
    """Feeds of an OPML document, and the labels of the outlines that are
    neither a feed nor a folder (no xmlUrl, no children). Tags come from the
    parent outlines (folders) and from OPML 2.0's `category` attribute."""
    try:
        root = fromstring(data)
    except (XMLParseError, DefusedXmlException) as exc:
        raise ConfigError(f"{source}: not a usable OPML file: {exc}") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise ConfigError(f"{source}: not an OPML file (no <opml><body>)")
    found: list[Outline] = []
    empty: list[str] = []
    _walk(body, (), found, empty)
    return found, empty


def _walk(node: Element, tags: tuple[str, ...], found: list[Outline], empty: list[str]) -> None:
    for outline in node.findall("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        label = (outline.get("title") or outline.get("text") or "").strip()
        if url:
            own = tuple(dict.fromkeys((*tags, *_categories(outline.get("category") or ""))))
            found.append(Outline(url, label or url, own))
        elif outline.find("outline") is not None:
            _walk(outline, (*tags, label) if label else tags, found, empty)
        else:
            empty.append(label or "(an outline without text)")


def _categories(value: str) -> list[str]:
    """OPML 2.0 `category`: comma-separated, each a tag or a /slash/path
    (http://opml.org/spec2.opml#1629042198000): a path is kept as one tag."""
    return [c.strip().strip("/") for c in value.split(",") if c.strip().strip("/")]


def import_opml(config: Path, data: bytes, source: str) -> Added:
    """Append the OPML's feeds to `config`, unless the result would not load."""
    outlines, empty = read_opml(data, source)
    result = add_feeds(config, (NewFeed(o.url, o.name, o.tags) for o in outlines),
                       "import-opml")
    result.skipped[:0] = [(label, "no xmlUrl") for label in empty]
    return result


def export_opml(feeds: Sequence[FeedSettings], title: str = "newsmonitor feeds") -> bytes:
    """An OPML 2.0 document listing `feeds` (http ones; local files are not
    portable), tags as `category`, one outline per line."""
    root = Element("opml", version="2.0")
    SubElement(SubElement(root, "head"), "title").text = title
    body = SubElement(root, "body")
    for feed in feeds:
        if feed.url.startswith(("http://", "https://")):
            outline = SubElement(body, "outline", type="rss", text=feed.name, title=feed.name,
                                 xmlUrl=feed.url)
            if feed.tags:
                outline.set("category", ",".join(feed.tags))
    indent(root)
    text = tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n'.encode()


def cmd_import_opml(args: argparse.Namespace) -> int:
    path = config_path(args)
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{args.file}: cannot read: {exc.strerror}") from None
    result = import_opml(path, data, args.file)
    for outline in result.added:
        print(f"added: {outline.name} <{outline.url}>")
    for label, reason in result.skipped:
        print(f"skipped: {label}: {reason}")
    print(f"{len(result.added)} feeds added to {path}, {len(result.skipped)} outlines skipped")
    return EXIT_OK


def cmd_export_opml(args: argparse.Namespace) -> int:
    sys.stdout.write(export_opml(load(config_path(args)).feeds).decode())
    return EXIT_OK
