"""The README's option tables, generated from the schema's defaults and help.

`python -m monitor.config.docs` (from the repository root) rewrites them in
README.md, between the two markers; tests/test_docs.py fails when they
differ from `option_tables()`, so the help text is written once, in schema.py.
"""

from __future__ import annotations

import enum
import json
import sys
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from monitor.config.schema import ChannelModel, FeedModel, MonitorModel, RuleModel
from monitor.config.values import (
    format_duration,
    format_size,
    header_pairs,
    parse_rate,
    parse_size,
)

SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("[monitor]", MonitorModel), ("[channels.NAME]", ChannelModel),
    ("[[feeds]]", FeedModel), ("[[rules]]", RuleModel))
BEGIN = "<!-- option tables: generated from monitor/config/schema.py, see Development -->"
END = "<!-- end of the option tables -->"


def option_tables() -> str:
    """Markdown: one `#### [section]` table per schema model, key, default, meaning."""
    return "\n\n".join(_table(title, model) for title, model in SECTIONS)


def _table(title: str, model: type[BaseModel]) -> str:
    rows = [f"#### `{title}`", "", "| key | default | meaning |", "|---|---|---|"]
    for name, field in model.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{field.alias or name}` | {_default(field)} | {meaning} |")
    return "\n".join(rows)


def _default(field: FieldInfo) -> str:
    """The default as the user would write it; durations, sizes and rates bare."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    parsers = {getattr(m, "func", None) for m in field.metadata}
    if value is None:
        return "—"
    if parse_size in parsers:
        return format_size(value)
    if header_pairs in parsers:
        return "{}"
    if parse_rate in parsers:
        return f"{value[0]}/{format_duration(value[1])}"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=False)


def rewrite(readme: Path) -> None:
    """Replace the tables between BEGIN and END in `readme` by `option_tables()`."""
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{BEGIN}\n\n{option_tables()}\n\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    rewrite(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"))
