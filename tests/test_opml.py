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


def test_export_is_one_outline_a_line_with_tags_as_category(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`export-opml` wrote one line with no final newline and lost the tags."""
    config = tmp_path / "monitor.toml"
    config.write_text(CONFIG + '\n[[feeds]]\nname = "Electrek"\nurl = "https://electrek.co/feed/"'
                      '\ntags = ["Auto", "EV"]\n', encoding="utf-8")
    capsys.readouterr()
    assert main(["export-opml", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert lines[-1] == "" and len(lines) > 6
    assert [line.strip() for line in lines if "<outline" in line] == [
        '<outline type="rss" text="Known" title="Known" '
        'xmlUrl="https://example.org/known.xml" />',
        '<outline type="rss" text="Electrek" title="Electrek" '
        'xmlUrl="https://electrek.co/feed/" category="Auto,EV" />']


def test_tags_survive_export_then_import(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    source, target = tmp_path / "a.toml", tmp_path / "b.toml"
    source.write_text(CONFIG.replace('url = "https://example.org/known.xml"',
                                     'url = "https://example.org/known.xml"\n'
                                     'tags = ["Auto", "EV"]'), encoding="utf-8")
    target.write_text(CONFIG.split("[[feeds]]")[0], encoding="utf-8")
    assert main(["export-opml", "--config", str(source)]) == 0
    (tmp_path / "feeds.opml").write_text(capsys.readouterr().out, encoding="utf-8")
    assert main(["import-opml", str(tmp_path / "feeds.opml"), "--config", str(target)]) == 0
    assert load(target).feeds[0].tags == ("Auto", "EV")


def test_import_says_what_it_skipped(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Duplicates and outlines without a URL were skipped without a word."""
    config, opml = tmp_path / "monitor.toml", tmp_path / "subs.opml"
    config.write_text(CONFIG, encoding="utf-8")
    opml.write_bytes(OPML.replace(b"</body>", b'<outline text="Bookmark" htmlUrl="https://x.org"/>'
                                  b'<outline text="Again" xmlUrl="https://electrek.co/feed/" '
                                  b'category="/Tech/EV,News"/></body>'))
    assert main(["import-opml", str(opml), "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-4:] == ["skipped: Bookmark: no xmlUrl",
                        "skipped: Known: <https://example.org/known.xml> already in the config",
                        "skipped: Again: <https://electrek.co/feed/> already listed twice",
                        f"2 feeds added to {config}, 3 outlines skipped"]


def test_import_that_would_break_the_config_leaves_it_unchanged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, opml = tmp_path / "monitor.toml", tmp_path / "subs.opml"
    config.write_text(CONFIG, encoding="utf-8")
    opml.write_bytes(OPML.replace(b"https://electrek.co/feed/", b"javascript:alert(1)"))
    assert main(["import-opml", str(opml), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{config}: left unchanged" in err and ".tmp" not in err
    assert config.read_text(encoding="utf-8") == CONFIG
    assert {p.name for p in tmp_path.iterdir()} == {"monitor.toml", "subs.opml"}


@pytest.mark.parametrize(("config_text", "error"), [
    (None, "{config}: file not found"),
    ("[monitor\n", "{config}: TOML syntax error"),
    ("feeds = 3\n", "{config}: feeds: Input should be a valid list"),
    ('feeds = [{name = "a", url = "https://a.org/x"}]\n' + CONFIG.split("[[feeds]]")[0],
     "{config}: feeds: import-opml adds [[feeds]] tables"),
])
def test_import_into_a_missing_or_invalid_config(tmp_path: Path, config_text: str | None,
                                                 error: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """These ended in tracebacks (FileNotFoundError, tomlkit's, TypeError)."""
    config, opml = tmp_path / "monitor.toml", tmp_path / "subs.opml"
    if config_text is not None:
        config.write_text(config_text, encoding="utf-8")
    opml.write_bytes(OPML)
    assert main(["import-opml", str(opml), "--config", str(config)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {error.format(config=config)}")
