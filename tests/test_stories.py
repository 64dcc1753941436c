"""Story grouping (issue 12): test-stories on the labelled set, the chaining
guard, the window, and the pieces (kinds, subjects, pairwise scores)."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.models import Item
from monitor.poll.stories import Stories
from monitor.stories import StoryIndex, StorySettings, pairwise, story_id
from monitor.stories.kinds import Kind, kind
from monitor.stories.subject import subject

STORIES = Path(__file__).parent / "data" / "stories.jsonl"
T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


def _records() -> list[dict[str, object]]:
    return [json.loads(line) for line in STORIES.read_text(encoding="utf-8").splitlines()]


def _scored_pairs(records: list[dict[str, object]]) -> list[tuple[str, str, bool]]:
    """Every pair of items but the ambiguous ones: (id, id, same story?)."""
    ambiguous = {frozenset((str(r["id"]), str(other)))
                 for r in records for other in r.get("ambiguous", ())}  # type: ignore[attr-defined]
    return [(str(a["id"]), str(b["id"]), a["story"] == b["story"])
            for a, b in itertools.combinations(records, 2)
            if frozenset((a["id"], b["id"])) not in ambiguous]


def test_test_stories_on_the_labelled_set(capsys: pytest.CaptureFixture[str]) -> None:
    """`test-stories --json` over tests/data/stories.jsonl: pairwise precision
    at least 0.95 and recall at least 0.90 (issue 12), counted here from the
    printed groups as well as read from the command's own score line."""
    assert main(["test-stories", "--items", str(STORIES), "--json"]) == 0
    out, err = capsys.readouterr()
    story = {line["id"]: line["story"] for line in map(json.loads, out.splitlines())}
    records = _records()
    assert sorted(story) == sorted(str(r["id"]) for r in records)
    counts = Counter((same, story[a] == story[b]) for a, b, same in _scored_pairs(records))
    precision = counts[True, True] / (counts[True, True] + counts[False, True])
    recall = counts[True, True] / (counts[True, True] + counts[True, False])
    assert precision >= 0.95 and recall >= 0.90, (precision, recall)
    printed = re.search(r"precision (\S+)\s+recall (\S+)", err)
    assert printed is not None
    assert (float(printed[1]), float(printed[2])) == (round(precision, 3), round(recall, 3))


def test_the_labelled_set_is_as_issue_12_asks() -> None:
    """At least 250 items from at least 8 feeds in French and English, at
    least 40 scored positive pairs, and the hard pairs of the issue."""
    records = _records()
    assert len(records) >= 250
    assert len({r["feed"] for r in records}) >= 8
    assert {r["lang"] for r in records} == {"fr", "en"}
    assert sum(same for _, _, same in _scored_pairs(records)) >= 40
    label = {r["title"]: r["story"] for r in records}
    assert (label["Renault va liquider sa filiale Ampère"] == label[
        "Le constructeur au losange met fin à l'aventure de son entité électrique"])
    assert (label["Renault to wind up Ampere EV unit, fold staff back into group"]
            != label["Renault cancels Ampere IPO, citing market conditions"])
    assert (label["Le vendeur de meubles Camif placé en redressement judiciaire"]
            != label["L'équipementier Novares placé en redressement judiciaire"])


def _item(number: int, title: str, summary: str = "", minutes: int = 0,
          feed: str = "Les Echos", link: str = "") -> Item:
    return Item(feed=feed, id=f"i{number}", title=title, summary=summary,
                link=link or f"https://news.example/{number}",
                published=T0 + timedelta(minutes=minutes))


def _attach(index: StoryIndex, *items: Item) -> list[str]:
    return [index.attach(item, item.published or T0) for item in items]


# A ~ B (one liquidation) and B ~ C (one plant closure), but A and C are two
# decisions: B is the piece that reports both.
CHAIN_A = _item(1, "Renault liquide sa filiale Ampère",
                "Le constructeur réintègre les 11 000 salariés d'Ampère, sa filiale de "
                "véhicules électriques créée en 2023.")
CHAIN_B = _item(2, "Renault liquide Ampère et ferme l'usine de Flins",
                "Le constructeur réintègre les salariés d'Ampère et arrêtera la production "
                "à Flins, où travaillent 2 400 personnes, d'ici la fin de l'année.", 20)
CHAIN_C = _item(3, "Renault va fermer l'usine de Flins",
                "La production s'arrêtera à Flins d'ici la fin de l'année ; le site emploie "
                "2 400 personnes dans les Yvelines.", 40)


def test_the_chaining_guard_keeps_a_and_c_apart() -> None:
    """A~B and B~C each pass the threshold on their own, yet C does not join
    the story of A and B: it is compared with the story as a whole."""
    alone = StoryIndex()
    b, c = _attach(alone, CHAIN_B, CHAIN_C)
    assert b == c  # B and C alone are one story: the pair B~C is close
    index = StoryIndex()
    a, b, c = _attach(index, CHAIN_A, CHAIN_B, CHAIN_C)
    assert a == b  # A~B
    assert c != a


def test_an_item_seen_again_or_in_another_section_feed_joins_its_story() -> None:
    """The same item again (same feed and id), and the same article in a
    second section feed with a tracking parameter on its link, are one story
    even with an edited title."""
    link = "https://www.lemonde.fr/economie/article/2026/03/10/retraites_651_3234.html"
    first = _item(1, "Retraites : accord a minima au conclave", "", 0, "Le Monde Économie", link)
    edited = _item(1, "Retraites : le conclave aboutit à un accord", "", 30,
                   "Le Monde Économie", link)
    other = _item(2, "Le conclave des retraites aboutit", "", 31, "Le Monde Politique",
                  link.replace("https://www.", "http://") + "?xtor=RSS-3208")
    assert len(set(_attach(StoryIndex(), first, edited, other))) == 1


def test_different_events_of_one_company_stay_apart() -> None:
    index = StoryIndex()
    ipo, liquidation = _attach(
        index,
        _item(1, "Renault cancels Ampere IPO, citing market conditions",
              "Renault has called off the planned stock market listing of its EV unit Ampere."),
        _item(2, "Renault to liquidate Ampere, fold 11,000 staff back into group",
              "Renault said it would wind up Ampere and bring its employees back.", 600))
    assert ipo != liquidation


TEASER = ("CONFIDENTIEL BOURSE – Chaque semaine, Le Figaro Patrimoine et Bourse relaie des "
          "informations exclusives sur les valeurs de la cote.")


def test_a_teaser_a_feed_gives_every_article_makes_no_story_of_them() -> None:
    """Le Figaro's market columns share one blurb whatever the company: the
    LVMH and the Eiffage columns were one story, and the Eiffage alert was
    never sent. The same article seen again keeps its story."""
    index = StoryIndex()
    link = "https://www.lefigaro.fr/bourse/lvmh-stifel-objectif-20261201"
    lvmh, eiffage, publicis, again, elsewhere = _attach(
        index,
        _item(1, "LVMH : le bureau d'analyse Stifel relève son objectif de cours", TEASER,
              feed="Figaro Bourse", link=link),
        _item(2, "Eiffage, ce Vinci en miniature que les gérants redécouvrent", TEASER, 60,
              feed="Figaro Bourse"),
        _item(3, "Publicis gagne un budget géant chez Nestlé", TEASER, 120,
              feed="Figaro Bourse"),
        _item(4, "LVMH : Stifel relève son objectif de cours", TEASER, 130,
              feed="Figaro Bourse", link=link),  # the first one's title edited
        _item(5, "LVMH : le bureau d'analyse Stifel relève son objectif de cours", TEASER,
              140, feed="Figaro Une"))  # the same column in another section feed
    assert len({lvmh, eiffage, publicis}) == 3
    assert again == lvmh and elsewhere == lvmh


def test_an_archive_piece_seen_today_joins_no_story_of_today() -> None:
    """An article of 2023 put back on a feed today ("Archive : Renault crée
    Ampère") joined today's story on Ampère's liquidation and took its
    alert: it is in the window from when it was seen, but judged by when
    it was published. Its own story stays open for the window."""
    stories = Stories(StorySettings())  # the daemon's, as the pipeline attaches
    today = _item(1, "Renault liquide sa filiale électrique Ampère",
                  "Le constructeur réintègre les salariés de sa filiale électrique Ampère.")
    archive = dataclasses.replace(
        _item(2, "Archive : Renault crée Ampère, sa filiale électrique",
              "Le constructeur crée une filiale électrique, Ampère, pour ses salariés."),
        published=datetime(2023, 11, 6, 9, 0, tzinfo=UTC))
    now = T0 + timedelta(minutes=10)
    [first] = asyncio.run(stories.attach([today], T0))
    [old] = asyncio.run(stories.attach([archive], now))
    assert old.story_id != first.story_id
    later = now + timedelta(hours=20)
    [again] = asyncio.run(stories.attach([archive], later))
    assert again.story_id == old.story_id  # its story is still open, not evicted


def test_stories_leave_the_index_with_the_window() -> None:
    """Stories whose latest item is older than the window are forgotten, as
    are their items' word counts; the same headline then opens a new story."""
    settings = StorySettings(window=timedelta(hours=48))
    index = StoryIndex(settings)
    first = index.attach(CHAIN_A, T0)
    for hour in range(1, 24 * 5):
        at = T0 + timedelta(hours=hour)
        index.attach(_item(100 + hour, f"Titre sans rapport numéro {hour}", "", 60 * hour), at)
        assert len(index) <= 49
    later = T0 + timedelta(days=5)
    again = Item(feed="Les Echos", id="i1-again", title=CHAIN_A.title, summary=CHAIN_A.summary,
                 published=later)
    assert index.attach(again, later) != first
    assert index.rarity.items <= 50


def test_an_item_seen_again_after_leaving_the_counts_rejoins_its_open_story() -> None:
    """A story outlives its first item in the rarity counts while later items
    keep it open; the first item seen again then joins it, not a new story
    of the same id."""
    index = StoryIndex(StorySettings(window=timedelta(hours=48)))
    first = index.attach(CHAIN_A, T0)
    follow_up = dataclasses.replace(CHAIN_B, published=T0 + timedelta(hours=6))
    assert index.attach(follow_up, T0 + timedelta(hours=6)) == first
    again = dataclasses.replace(CHAIN_A, published=T0 + timedelta(hours=50))
    assert index.attach(again, T0 + timedelta(hours=50)) == first
    assert (len(index), index.size(first)) == (1, 3)


def test_rebuilding_from_the_same_items_gives_the_same_stories() -> None:
    """The daemon rebuilds the index from its stored items: same items in the
    same order, same story ids; a story's id is its first item's."""
    items = [CHAIN_A, CHAIN_B, CHAIN_C]
    assert _attach(StoryIndex(), *items) == _attach(StoryIndex(), *items)
    assert _attach(StoryIndex(), *items)[0] == story_id(CHAIN_A)


def test_a_time_without_zone_is_taken_as_utc() -> None:
    naive = dataclasses.replace(CHAIN_A, published=datetime(2026, 3, 10, 8, 0))
    index = StoryIndex()
    assert index.attach(naive, T0 + timedelta(hours=1)) == story_id(CHAIN_A)
    assert index.attach(CHAIN_B, datetime(2026, 3, 10, 9, 0)) == story_id(CHAIN_A)


def test_an_item_from_the_future_is_timed_now() -> None:
    ahead = _item(1, "Titre", "", 60 * 24 * 3)
    index = StoryIndex()
    index.attach(ahead, T0)
    assert index.rarity.items == 1
    index.evict(T0 + timedelta(hours=49))
    assert index.rarity.items == 0


@pytest.mark.parametrize(("title", "summary", "expected"), [
    ("Le CAC 40 recule de 0,8 %, plombé par le luxe", "", Kind.MARKET),
    ("Airbus Shares Fall as Investors Weigh Delivery Shortfall", "", Kind.MARKET),
    ("Fnac Darty s'envole de 28 % à l'ouverture", "", Kind.MARKET),
    ("Renault renonce à introduire Ampère en Bourse", "", Kind.REPORT),
    ("Nvidia rassure Wall Street avec des prévisions record", "", Kind.REPORT),
    ("En direct : grève chez Airbus", "", Kind.ROUNDUP),
    ("Business live: ECB decision looms", "", Kind.ROUNDUP),
    ("Trois choses à savoir sur l'économie ce mardi", "", Kind.ROUNDUP),
    ("Après Ampère, Renault cherche un nouveau récit", "Analyse. La fin de la filiale",
     Kind.OPINION),
    ("Opinion: the ECB is cutting too slowly", "", Kind.OPINION),
])
def test_kinds(title: str, summary: str, expected: Kind) -> None:
    assert kind(title, summary) is expected


@pytest.mark.parametrize(("title", "summary", "expected"), [
    ("Ryanair ouvre trois nouvelles lignes au départ de Toulouse", "La compagnie...", "ryanai"),
    ("Grève chez Airbus : un préavis déposé", "Un préavis de grève a été déposé.", "airbus"),
    ("L'équipementier Novares placé en redressement judiciaire",
     "Le tribunal a ouvert une procédure pour l'équipementier.", "novare"),
    ("Stellantis Pulls Back 312,000 Jeeps and Rams on Camera Glitch", "", "stella"),
    ("BP boss quits as pressure mounts", "", "bp"),
    ("Les ventes de voitures neuves reculent de 8 %", "", None),
])
def test_subjects(title: str, summary: str, expected: str | None) -> None:
    assert subject(title, summary) == expected


def test_pairwise_scores_leave_out_unlabelled_items_and_ambiguous_pairs() -> None:
    labels = ["a", "a", "a", "b", None]
    stories = ["x", "x", "y", "y", "y"]
    scores = pairwise(labels, stories)
    assert (scores.true_positives, scores.predicted, scores.expected) == (1, 2, 3)
    scores = pairwise(labels, stories, ambiguous=[(2, 3), (4, 0)])
    assert (scores.true_positives, scores.predicted, scores.expected) == (1, 1, 3)
    assert (scores.precision, scores.recall) == (1.0, 1 / 3)


def test_test_stories_text_output_and_undated_items(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Items are taken in order of date; an undated one keeps its place (it
    is timed like the dated item before it in the file); the story printed
    is the id of the story's first item."""
    items = tmp_path / "items.jsonl"
    rows = [
        {"id": "b", "feed": "F", "title": CHAIN_B.title, "summary": CHAIN_B.summary,
         "link": "", "published": "2026-03-10T09:00:00+01:00"},
        {"id": "a", "feed": "F", "title": CHAIN_A.title, "summary": CHAIN_A.summary,
         "link": "", "published": "2026-03-10T08:30:00+01:00"},
        {"id": "u", "feed": "G", "title": "Sans date", "summary": "", "link": "",
         "published": None},
    ]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["test-stories", "--items", str(items)]) == 0
    lines = [line.split("\t")[:2] for line in capsys.readouterr().out.splitlines()]
    assert lines == [["a", "a"], ["u", "u"], ["b", "a"]]


def test_test_stories_rejects_a_bad_line(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "a", "title": "x", "published": "yesterday"}\n', encoding="utf-8")
    assert main(["test-stories", "--items", str(items)]) == 1
    assert "items.jsonl:1" in capsys.readouterr().err


@pytest.mark.parametrize(("first", "second", "same"), [
    ("Renault to liquidate Ampere", "Renault cancels Ampere IPO", False),
    ("Renault va liquider sa filiale Ampère",
     "Ampere : Renault ouvre une usine de batteries à Douai", False),
    ("Renault va liquider sa filiale Ampère", "Renault liquide Ampère, sa filiale électrique",
     True),
])
def test_names_alone_do_not_make_one_story_in_a_cold_window(first: str, second: str,
                                                            same: bool) -> None:
    """A daemon's first hours hold few items, so every word is rare: two
    events that share only their names (Renault, Ampere) were one story, and
    the second never alerted. What happened must be shared too."""
    at = datetime(2026, 3, 10, 9, tzinfo=UTC)
    index = StoryIndex(StorySettings())
    a = index.attach(Item(feed="a", id="1", title=first, published=at), at)
    later = at + timedelta(minutes=30)
    b = index.attach(Item(feed="b", id="2", title=second, published=later), later)
    assert (a == b) is same
