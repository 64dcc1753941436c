"""The shape of monitor/, kept by a test (issue 10): who may import whom,
each third-party library in its one room, and the size of files, classes
and functions. Read from the source with `ast`: nothing is imported.

The map (the README's "How it works" draws the same):

    models, errors, text, retry   the base: import nothing of ours
    config                        TOML → frozen runtime objects
    matcher, stories, render      pure: rules, story grouping, messages
    store                         all persistence, the only SQL
    poll                          one feed's poll as one compartment
    deliver                       outbox → channels
    web                           the read-only page, the WebSub callback (service starts it)
    service                       the process shell, composition root
    cli                           argv and subcommands
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MONITOR = Path(__file__).resolve().parents[1] / "monitor"

BASE = {"models", "errors", "text", "retry"}
PURE = {"config", "matcher", "stories", "render"}
# Package → the packages of ours it may import (besides itself and `monitor`,
# the root, which holds only the version and the User-Agent).
MAY_IMPORT: dict[str, set[str]] = {
    "models": set(), "errors": set(), "text": set(), "retry": set(),
    "config": BASE | {"render"},  # the format choices come from render's registry
    "matcher": BASE,
    "stories": BASE | {"matcher"},
    "render": BASE,
    "store": BASE,
    "poll": BASE | PURE | {"store"},
    "deliver": BASE | PURE | {"store"},
    "web": BASE | PURE | {"store"},
    "service": BASE | PURE | {"store", "poll", "deliver", "web"},
    "cli": BASE | PURE | {"store", "poll", "deliver", "web", "service"},
    "__main__": {"cli"},
}
# Third-party library → where it may be imported (paths under monitor/).
OWNERS: dict[str, tuple[str, ...]] = {
    "aiohttp": ("poll/fetcher.py", "poll/hubclient.py", "web/"),
    "feedparser": ("poll/parser/",),
    "defusedxml": ("poll/parser/", "cli/opml.py"),
    "sqlalchemy": ("store/",),
    "apprise": ("deliver/notifier/",),
    "requests": ("deliver/notifier/",),
    "urllib3": ("deliver/notifier/",),  # requests' transport: the send deadline
    "apscheduler": ("service/",),
    "croniter": ("deliver/flood.py",),
    "jinja2": ("render/", "web/"),
    "pydantic": ("config/",),
    "rapidfuzz": ("matcher/", "stories/"),
    "ahocorasick": ("matcher/",),
    "lxml": ("poll/parser/",),
    "anyascii": ("matcher/",),
    "datasketch": ("stories/",),
    "selectolax": ("text.py", "poll/discover.py"),
    "tomlkit": ("cli/",),
    "prometheus_client": ("service/", "web/"),
    "trafilatura": ("poll/parser/article.py",),
    "protego": ("poll/robots.py",),
}
MAX_FILE, MAX_CLASS, MAX_FUNCTION = 400, 200, 50


@dataclass(frozen=True)
class Import:
    path: str     # relative to monitor/, e.g. "poll/fetcher.py"
    line: int
    module: str   # the module imported, absolute


def package_of(path: str) -> str:
    """`poll/fetcher.py` → poll; `models.py` → models; `__init__.py` → the root."""
    first = path.split("/")[0]
    return first.removesuffix(".py")


def imports(path: str, source: str) -> Iterator[Import]:
    """Every import of a module's source, relative ones made absolute."""
    parts = ["monitor", *path.removesuffix(".py").split("/")]
    if parts[-1] == "__init__":
        parts.pop()
    package = parts if path.endswith("__init__.py") else parts[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (Import(path, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[:len(package) - node.level + 1], base]).strip(".")
            if base == "monitor":  # `from monitor import x`: x may be a package
                yield from (Import(path, node.lineno, f"monitor.{a.name}") for a in node.names)
            else:
                yield Import(path, node.lineno, base)


def violations(sources: dict[str, str]) -> list[str]:
    """What breaks the map, one line each, for `sources` (path → text)."""
    found: list[str] = []
    for path, source in sorted(sources.items()):
        for imp in imports(path, source):
            found += _check(imp)
    return found


def _check(imp: Import) -> list[str]:
    where = f"monitor/{imp.path}:{imp.line}: imports {imp.module}"
    top = imp.module.split(".")[0]
    if top == "monitor":
        target = imp.module.split(".")[1] if "." in imp.module else ""
        mine = package_of(imp.path)
        allowed = MAY_IMPORT.get(mine, set()) | {mine, "", "__version__", "USER_AGENT",
                                                 "PROJECT_URL", "data"}
        if mine in ("__init__",) or target in allowed:
            return []
        return [f"{where}, but {mine} may import only {sorted(MAY_IMPORT.get(mine, set()))}"]
    if top in sys.stdlib_module_names or top == "__future__":
        return []
    owners = OWNERS.get(top)
    if owners is None:
        return [f"{where}: a third-party library with no owner in OWNERS"]
    if not imp.path.startswith(owners):
        return [f"{where}, which belongs in {', '.join(owners)}"]
    return []


def _sources() -> dict[str, str]:
    return {str(p.relative_to(MONITOR)): p.read_text(encoding="utf-8")
            for p in sorted(MONITOR.rglob("*.py"))}


def test_every_package_imports_only_what_the_map_allows() -> None:
    assert violations(_sources()) == []


@pytest.mark.parametrize(("path", "source"), [
    ("matcher/engine.py", "from monitor.store import Store"),        # pure → SQL
    ("store/feedstate.py", "from monitor.poll import pipeline"),      # down → up
    ("deliver/outbox.py", "from monitor.poll.schedule import x"),     # side → side
    ("render/html.py", "from ..config import Settings"),              # relative, too
    ("poll/pipeline.py", "import sqlalchemy"),                        # a library's room
    ("deliver/flood.py", "from apscheduler.triggers.cron import CronTrigger"),
    ("config/loader.py", "import somethingnew"),                      # an unowned library
])
def test_a_forbidden_import_is_reported(path: str, source: str) -> None:
    assert len(violations({path: source})) == 1


@pytest.mark.parametrize(("path", "source"), [
    ("poll/pipeline.py", "from monitor.store import Store"),
    ("cli/run.py", "from monitor.service.daemon import Daemon"),
    ("store/outbox.py", "from .schema import alerts_t"),
    ("poll/fetcher.py", "import aiohttp"),
    ("config/schema.py", "from monitor import USER_AGENT"),
])
def test_an_allowed_import_is_not_reported(path: str, source: str) -> None:
    assert violations({path: source}) == []


def _too_long(path: str, source: str) -> Iterator[str]:
    lines = source.count("\n") + 1
    if lines > MAX_FILE:
        yield f"monitor/{path}: {lines} lines (at most {MAX_FILE})"
    for node in ast.walk(ast.parse(source)):
        limit = (MAX_CLASS if isinstance(node, ast.ClassDef) else MAX_FUNCTION
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None)
        if limit is None:
            continue
        assert isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        size = (node.end_lineno or node.lineno) - node.lineno + 1
        if size > limit:
            yield f"monitor/{path}:{node.lineno}: {node.name} has {size} lines (at most {limit})"


def test_no_file_class_or_function_is_too_long() -> None:
    found = [line for path, source in _sources().items() for line in _too_long(path, source)]
    assert found == []


def test_the_size_check_reports_a_long_function() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    assert len(list(_too_long("poll/x.py", f"def f():\n{body}\n"))) == 1
