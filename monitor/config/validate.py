"""TOML data → a schema model, every error located, the valid rest kept.

On errors, each is recorded as `file: rules[3] (name="x").query: message` and
validation goes on without the feed, rule, channel or [monitor] key it points
into, so that one run reports every problem (the loader's cross-checks, the
rule queries and the channel URLs included). `Validated` remembers where each
kept entry was in the file, so that later messages still name `rules[3]` when
`rules[1]` was left out, and which names were left out, so that a rule naming
a channel with a bad key is not also told the channel does not exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import pydantic

_SECRET_KEYS = {"url", "urls", "database", "http_token"}
_LISTS = ("feeds", "rules")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # TOML's bare keys; any other is written quoted

M = TypeVar("M", bound=pydantic.BaseModel)


@dataclass(frozen=True, slots=True)
class Validated(Generic[M]):
    model: M
    # For "feeds" and "rules": the index in the file of each kept entry.
    origin: Mapping[str, list[int]] = field(default_factory=dict)
    # For "feeds" and "channels": the names of the entries left out.
    dropped: Mapping[str, set[str]] = field(default_factory=dict)

    def index(self, key: str, kept: int) -> int:
        return self.origin[key][kept] if key in self.origin else kept


def validate(path: Path, data: dict[str, Any], model: type[M],
             problems: list[str]) -> Validated[M] | None:
    """`data` as `model`, with every error in `problems`; None only when an error
    leaves nothing sensible to keep (e.g. `feeds` is not an array)."""
    origin = {key: list(range(len(data[key]))) for key in _LISTS
              if isinstance(data.get(key), list)}
    dropped: dict[str, set[str]] = {"feeds": set(), "channels": set()}
    for _ in range(3):
        try:
            return Validated(model.model_validate(data), origin, dropped)
        except pydantic.ValidationError as exc:
            problems += [f"{path}: {_error_line(err, data, origin)}" for err in exc.errors()]
            bad = _bad_entries([err["loc"] for err in exc.errors()])
            if bad is None:
                return None
            _note_dropped(data, bad, dropped)
            origin = {key: [o for i, o in enumerate(idx) if i not in bad.get(key, ())]
                      for key, idx in origin.items()}
            data = _without(data, bad)
    return None


def _bad_entries(locations: list[tuple[Any, ...]]) -> dict[str, set[Any]] | None:
    """Each list entry, channel, include or [monitor] key an error points into (None: the
    whole [monitor] table, if it is not a table); None for an error at the top."""
    bad: dict[str, set[Any]] = {}
    for loc in locations:
        if len(loc) >= 2 and loc[0] in ("feeds", "rules", "channels", "monitor", "include"):
            bad.setdefault(loc[0], set()).add(loc[1])
        elif len(loc) == 1 and loc[0] == "monitor":
            bad["monitor"] = {None}
        else:
            return None
    return bad


def _note_dropped(data: Mapping[str, Any], bad: Mapping[str, set[Any]],
                  dropped: dict[str, set[str]]) -> None:
    dropped["channels"] |= {str(name) for name in bad.get("channels", ())}
    feeds = data.get("feeds")
    for i in bad.get("feeds", ()):
        entry = feeds[i] if isinstance(feeds, list) and isinstance(i, int) else None
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            dropped["feeds"].add(entry["name"])


def _without(data: dict[str, Any], bad: Mapping[str, set[Any]]) -> dict[str, Any]:
    """`data` minus the bad entries: the valid keys of [monitor] stay, so that
    the cross-checks see the user's default_channels."""
    pruned = dict(data)
    for key, entries in bad.items():
        value = pruned.get(key)
        if key == "monitor" and (None in entries or not isinstance(value, dict)):
            pruned.pop("monitor", None)
        elif isinstance(value, list):
            pruned[key] = [v for i, v in enumerate(value) if i not in entries]
        elif isinstance(value, dict):
            pruned[key] = {k: v for k, v in value.items() if k not in entries}
    return pruned


def _error_line(err: Mapping[str, Any], data: Mapping[str, Any],
                origin: Mapping[str, list[int]]) -> str:
    """One pydantic error as `rules[2] (name="x").query: message`; never the value of a
    secret-bearing key."""
    loc = [part for part in err["loc"] if not _is_union_tag(part)]
    path = _key_path(loc, data, origin)
    message = str(err["msg"])
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"] in ("tuple_type", "list_type"):
        message = "Input should be a valid list"  # TOML's arrays, however they are held
    elif err["type"].startswith("value_error"):
        message = message.removeprefix("Value error, ")
    if _SECRET_KEYS & {str(p) for p in loc}:
        message = message.split(":")[0].split(" '")[0]
    return f"{path}: {message}" if path else message


def _is_union_tag(part: object) -> bool:
    return part in ("PersonModel", "str") or (isinstance(part, str) and "[" in part)


def _key_path(loc: list[Any], data: Mapping[str, Any], origin: Mapping[str, list[int]]) -> str:
    out, node = "", data
    for depth, part in enumerate(loc):
        if isinstance(part, int):
            shown = origin[loc[0]][part] if depth == 1 and loc[0] in origin else part
            out += f"[{shown}]"
            node = node[part] if isinstance(node, list) and part < len(node) else {}
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                out += f" (name={_quoted(node['name'])})"
        else:
            out += f".{toml_key(str(part))}" if out else toml_key(str(part))
            node = node.get(part, {}) if isinstance(node, dict) else {}
    return out


def toml_key(key: str) -> str:
    """`key` as written in a key path: bare when TOML allows, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else _quoted(key)


def _quoted(text: str) -> str:
    """`text` as a TOML quoted key: one line whatever it holds (a key or a
    name with a line break made a problem of two lines)."""
    return json.dumps(text, ensure_ascii=False)
