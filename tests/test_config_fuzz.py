"""Fuzzing (issue 14): the config loader, and `newsmonitor check`, on
arbitrary input give settings or a clean error, never a traceback, a hang or
a crash.

Two kinds of input: TOML-ish text (arbitrary characters among the pieces of
a config), and well-formed TOML holding arbitrary values in every key the
schema knows (the keys are read from the models of monitor/config/schema.py,
so that an option added there is fuzzed too). Clean means: `load` returns
Settings or raises ConfigError, each problem one line naming the file;
`check` exits 0 or 1 with `error:` lines, no traceback. Failures hypothesis
finds are kept in its example database (.hypothesis/) and printed as a blob
to reproduce (`@reproduce_failure`); the ones found so far are `@example`
rows, replayed by every run.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from monitor.cli import main
from monitor.config import ChannelModel, FeedModel, MonitorModel, RuleModel, load
from monitor.config.schema import PersonModel
from monitor.errors import ConfigError
from tests.waiting import at_most

FUZZ = settings(deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# Values an option might plausibly hold, and some it must refuse.
WORDS = ["", "0", "1s", "0s", "-1s", "15m", "1h", "1d", "99999999999d", "1e308s", "10MB",
         "0B", "1.5GB", "20/10m", "0/1s", "1/0s", "22:00-07:00", "24:00-25:00", "0 8 * * *",
         "* * *", "UTC", "Europe/Paris", "Nowhere/Zone", "../../etc/passwd",
         "127.0.0.1:0", "0.0.0.0:8080", "[::1]:80", "localhost:99999", ":",
         "http://127.0.0.1:9/feed", "https://", "ftp://x", "file:feed.xml", "file:",
         "builtin:sample.xml", "builtin:nothing", "json://127.0.0.1:9/x", "console://",
         "mailto://", "postgresql://u:p@127.0.0.1:1/x", "sqlite://", "state.sqlite3", "/",
         "html", "markdown", "text", "high", "low", "title", "summary", "a AND (b OR",
         "NEAR/2", "${HOME}", "${NO_SUCH_VAR}", "${", "$", "*", "**/*.toml", "\x00",
         "\u202e", "\ud7ff", "a" * 5000]
TEXT = st.sampled_from(WORDS) | st.text(max_size=20)
SCALAR = (TEXT | st.integers() | st.integers(-2**63, 2**63 - 1) | st.floats()
          | st.booleans() | st.dates() | st.datetimes(timezones=st.none() | st.just(UTC))
          | st.times())
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)


# ---------------------------------------------------------------- a TOML writer
# Ours, so that every value the generators make is written (tomllib reads it).

def toml_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(doc: dict[str, Any]) -> str:
    """`doc` as TOML: scalars first, then [tables] and [[arrays of tables]]."""
    lines, later = [], []
    for key, value in doc.items():
        if isinstance(value, dict) and value:
            later.append(f"[{toml_key(key)}]\n" + toml_body(value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            later += [f"[[{toml_key(key)}]]\n" + toml_body(v) for v in value]
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    return "\n".join([*lines, *later]) + "\n"


def toml_body(table: dict[str, Any]) -> str:
    return "".join(f"{toml_key(k)} = {toml_value(v)}\n" for k, v in table.items())


# ---------------------------------------------------------------- from the schema

def keys(model: type[BaseModel]) -> list[str]:
    """The TOML keys of `model` (a field's alias where it has one: `not`)."""
    return [field.alias or name for name, field in model.model_fields.items()]


def table(model: type[BaseModel], **special: st.SearchStrategy[Any]
          ) -> st.SearchStrategy[dict[str, Any]]:
    """A table of `model`'s keys (any subset), each an arbitrary value; now and
    then a key the schema does not know."""
    fields = {key: special.get(key, VALUE) for key in keys(model)}
    return st.fixed_dictionaries({}, optional={**fields, "no_such_key": VALUE})


PERSON = table(PersonModel) | TEXT
CONFIGS = st.fixed_dictionaries({}, optional={
    "include": st.lists(TEXT, max_size=2) | VALUE,
    "monitor": table(MonitorModel) | VALUE,
    "channels": st.dictionaries(TEXT, table(ChannelModel), max_size=2) | VALUE,
    "feeds": st.lists(table(FeedModel), max_size=3) | VALUE,
    "rules": st.lists(table(RuleModel, people=st.lists(PERSON, max_size=2)), max_size=3)
    | VALUE,
}).map(toml_document)

PIECES = st.sampled_from(["[monitor]", "[[feeds]]", "[[rules]]", "[channels.a]", "[channels]",
                          "include = ", "url = ", "name = ", "query = ", "interval = ",
                          "database = ", "=", "[", "]", "{", "}", '"', "'''", '"""', ",", "\n",
                          "\\", "\\u", "#", ".", "true", "1979-05-27T07:32:00Z", "nan",
                          "0x1F", "1_000", "\t", "\r\n", "\ufeff", "\x00"])
TOMLISH = st.lists(PIECES | TEXT, max_size=40).map("".join)


# ---------------------------------------------------------------- the runs



def loads_cleanly(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        with at_most(10):
            load(path, environ={"HOME": "/nonexistent"})
    except ConfigError as exc:
        assert exc.problems, "a ConfigError says what is wrong"
        for problem in exc.problems:
            assert "\n" not in problem and "Traceback" not in problem, problem


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("configfuzz")


@settings(FUZZ, max_examples=1500)
@given(TOMLISH | st.text(max_size=300))
def test_the_loader_on_arbitrary_text(workspace: Path, text: str) -> None:
    loads_cleanly(workspace / "monitor.toml", text)


@settings(FUZZ, max_examples=1500)
@given(CONFIGS)
@example('["monitor"]\n"" = []\n"\\n" = []\n')  # a key with a line break: two lines
@example('[[rules]]\nname = "a\\nb"\nquery = "("\n')  # so was a rule's name
@example('[[feeds]]\nname = "a\\nb"\nurl = "builtin:sample.xml"\n'
         '[[feeds]]\nname = "a\\nb"\nurl = "builtin:sample.xml"\n')  # and a feed's
@example('["channels"]\n"\\n" = {}\n')  # and a channel's, in the loader's checks
@example(f'[channels.a]\ntimezone = "{"a" * 5000}"\n')  # OSError: file name too long
def test_the_loader_on_arbitrary_values_in_every_key(workspace: Path, text: str) -> None:
    loads_cleanly(workspace / "monitor.toml", text)


@settings(FUZZ, max_examples=100)
@given(CONFIGS)
def test_check_on_arbitrary_values_in_every_key(workspace: Path, text: str) -> None:
    config = workspace / "check.toml"
    config.write_text(text, encoding="utf-8", errors="surrogatepass")
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err), \
            at_most(30):
        try:
            code: int | str | None = main(["--config", str(config), "check"])
        except SystemExit as exc:
            code = exc.code
    assert code in (0, 1), err.getvalue()
    assert "Traceback" not in err.getvalue(), err.getvalue()
    assert code == 0 or "error:" in err.getvalue(), err.getvalue()
