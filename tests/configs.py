"""The one way tests write a config: the parts as Python values, TOML out.

    config = configs.write(tmp_path,
                           monitor={"database": tmp_path / "state.sqlite3"},
                           channels={"hook": hook.webhook("/h")},
                           feeds=[{"name": "news", "url": feed.url("/f")}],
                           rules=[AMPERE])

A channel given as a string is its `url`; a Path anywhere is written as its
text. Tests whose subject is the TOML text itself (line numbers of errors,
comments kept by `add`) write that text by hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomlkit

Table = Mapping[str, Any]

AMPERE: Table = {"name": "ampere", "any": ["Ampere"]}  # the rule most tests watch with
NEVER: Table = {"name": "never", "any": ["zzzyyyxxx"]}  # for tests of anything but alerts


def text(*, include: Sequence[str] = (), monitor: Table | None = None,
         channels: Mapping[str, str | Table] | None = None, feeds: Sequence[Table] = (),
         rules: Sequence[Table] = ()) -> str:
    """The TOML of a config made of these parts (those left out are not written)."""
    document: dict[str, Any] = {"include": list(include), "monitor": monitor or {},
                                "channels": {name: {"url": c} if isinstance(c, str) else c
                                             for name, c in (channels or {}).items()},
                                "feeds": list(feeds), "rules": list(rules)}
    return tomlkit.dumps({key: _plain(part) for key, part in document.items() if part})


def write(where: Path, **parts: Any) -> Path:
    """`text(**parts)` written to `where`: a .toml file, or monitor.toml in a folder."""
    path = where if where.suffix == ".toml" else where / "monitor.toml"
    path.write_text(text(**parts), encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
