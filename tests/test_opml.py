"""OPML import keeps the config's comments; export lists the http feeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import load

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="Auto" title="Auto">
    <outline type="rss" text="Electrek" xmlUrl="https://electrek.co/feed/"/>
    <outline type="rss" text="Known" xmlUrl="https://example.org/known.xml"/>
  </outline>
  <outline type="rss" title="Le Monde" xmlUrl="https://www.lemonde.fr/rss/une.xml"/>
</body></opml>"""

CONFIG = """# my comment stays
[monitor]
database = "db.sqlite3"
default_channels = ["console"]

[channels.console]
url = "console://"  # inline comment stays

[[feeds]]
name = "Known"
url = "https://example.org/known.xml"
"""


def test_import_adds_new_feeds_and_keeps_comments(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config, opml = tmp_path / "monitor.toml", tmp_path / "subs.opml"
    config.write_text(CONFIG, encoding="utf-8")
    opml.write_bytes(OPML)
    assert main(["import-opml", str(opml), "--config", str(config)]) == 0
    assert "2 feeds added" in capsys.readouterr().out
    text = config.read_text(encoding="utf-8")
    assert "# my comment stays" in text and "# inline comment stays" in text
    feeds = {f.name: f for f in load(config).feeds}
    assert set(feeds) == {"Known", "Electrek", "Le Monde"}
    assert feeds["Electrek"].tags == ("Auto",)

    assert main(["export-opml", "--config", str(config)]) == 0
    exported = capsys.readouterr().out
    assert exported.count("<outline") == 3 and 'xmlUrl="https://electrek.co/feed/"' in exported


@pytest.mark.parametrize("data", [
    b"not xml at all",
    b"<html><body>nope</body></html>",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
    b"<opml><body><outline xmlUrl='&b;'/></body></opml>",
])
def test_bad_opml_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   data: bytes) -> None:
    config, opml = tmp_path / "monitor.toml", tmp_path / "bad.opml"
    config.write_text(CONFIG, encoding="utf-8")
    opml.write_bytes(data)
    assert main(["import-opml", str(opml), "--config", str(config)]) == 1
    assert f"{opml}:" in capsys.readouterr().err
    assert config.read_text(encoding="utf-8") == CONFIG
