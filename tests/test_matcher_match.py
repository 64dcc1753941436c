"""Rule semantics, one row per case of ../shared/eval/README.md and per
operator: does the rule fire on this title/summary?"""

from __future__ import annotations

import pytest

from monitor.matcher import compile_rules
from monitor.models import Item, Person, Rule

PROVOST = (Person("Fran\u00e7ois Provost"),)
DE_MEO = (Person("Luca de Meo", aliases=("De Meo",)),)
LE_VOT = (Person("Denis Le Vot"),)

CASES = [
    # (case, rule, title, summary, fires)
    ("accent", Rule("r", query="Ampere"), "Amp\u00e8re", "", True),
    ("caps", Rule("r", query="ampere"), "AMPERE", "", True),
    ("caps and accent in rule", Rule("r", query="AMP\u00c8RE"), "ampere", "", True),
    ("whole word: plural", Rule("r", query="Ampere"), "Amperes", "", False),
    ("whole word: longer", Rule("r", query="Ampere"), "Amperex", "", False),
    ("whole word: inside", Rule("r", query="Ford"), "Stanford", "", False),
    ("elision l'", Rule("r", query="Ampere"), "l'Amp\u00e8re", "", True),
    ("elision d' curly", Rule("r", query="Ampere"), "d\u2019Ampere", "", True),
    ("elision qu'", Rule("r", query="Ampere"), "qu'Ampere", "", True),
    ("possessive", Rule("r", query="Renault"), "Renault's plan", "", True),
    ("possessive curly", Rule("r", query="Renault"), "Renault\u2019s plan", "", True),
    ("hyphen equals space", Rule("r", query='"CFE-CGC"'), "la CFE CGC", "", True),
    ("space equals hyphen", Rule("r", query='"CFE CGC"'), "la CFE-CGC", "", True),
    ("hyphen splits words", Rule("r", query="Ampere"), "ex-Amp\u00e8re", "", True),
    ("en dash entity", Rule("r", query='"CFE-CGC"'), "la CFE&ndash;CGC", "", True),
    ("html inline tags", Rule("r", query="Renault"), "", "<b>Re</b>nault", True),
    ("html block tags separate", Rule("r", query='"cessation de"'), "",
     "<p>cessation</p><p>de</p>", True),
    ("html entity in word", Rule("r", query="Ampere"), "", "d&rsquo;Amp&egrave;re", True),
    ("html attribute ignored", Rule("r", query="drone"), "", '<img alt="drone">', False),
    ("wildcard", Rule("r", query="liquid*"), "liquid\u00e9e", "", True),
    ("wildcard bare prefix", Rule("r", query="liquid*"), "liquid", "", True),
    ("wildcard not inside", Rule("r", query="liquid*"), "illiquide", "", False),
    ("wildcard after hyphen split", Rule("r", query="reintegr*"), "re-integrated", "", False),
    ("phrase", Rule("r", query='"joint venture"'), "a joint venture", "", True),
    ("phrase punctuation", Rule("r", query='"joint venture"'), "joint, venture", "", True),
    ("phrase interrupted", Rule("r", query='"joint venture"'), "joint new venture", "", False),
    ("phrase order", Rule("r", query='"joint venture"'), "venture joint", "", False),
    ("phrase never spans fields", Rule("r", query='"joint venture"'), "a joint", "venture",
     False),
    ("AND across fields", Rule("r", query="Ampere AND liquid*"), "Amp\u00e8re",
     "liquid\u00e9e", True),
    ("AND missing one", Rule("r", query="Ampere AND liquid*"), "Ampere", "", False),
    ("OR", Rule("r", query="Ford OR Nissan"), "Nissan", "", True),
    ("AND binds tighter", Rule("r", query="a OR b AND c"), "a", "", True),
    ("AND binds tighter 2", Rule("r", query="a OR b AND c"), "b", "", False),
    ("parentheses", Rule("r", query="(a OR b) AND c"), "a", "", False),
    ("NOT blocks", Rule("r", query="Ampere AND NOT Computing"), "Ampere Computing", "",
     False),
    ("NOT absent", Rule("r", query="Ampere AND NOT Computing"), "Ampere", "", True),
    ("NOT in other field", Rule("r", query="Ampere NOT Computing"), "Ampere", "Computing",
     False),
    ("NEAR within", Rule("r", query="Ampere NEAR/3 liquidation"),
     "Ampere va vers la liquidation", "", True),
    ("NEAR either order", Rule("r", query="Ampere NEAR/2 liquidation"),
     "liquidation d'Ampere", "", True),
    ("NEAR too far", Rule("r", query="Ampere NEAR/2 liquidation"),
     "Ampere va vers la liquidation", "", False),
    ("NEAR not across fields", Rule("r", query="Ampere NEAR/5 liquidation"), "Ampere",
     "liquidation", False),
    ("any one", Rule("r", any=("x", "accord")), "d'accord", "", True),
    ("any none", Rule("r", any=("x", "accord")), "accords", "", False),
    ("all every", Rule("r", all=("Renault", "Ford")), "Renault", "Ford", True),
    ("all one missing", Rule("r", all=("Renault", "Ford")), "Renault", "", False),
    ("any entry phrase", Rule("r", any=("joint venture",)), "joint-venture", "", True),
    ("not list", Rule("r", query="Ampere", not_=("Andr\u00e9-Marie Amp\u00e8re",)),
     "d\u2019Andr\u00e9-Marie Amp\u00e8re", "", False),
    ("query AND any", Rule("r", query="Ford", any=("accord",)), "Ford", "", False),
    ("person full name", Rule("r", people=PROVOST), "Francois Provost", "", True),
    ("person caps", Rule("r", people=PROVOST), "FRAN\u00c7OIS PROVOST", "", True),
    ("person family first comma", Rule("r", people=PROVOST), "Provost, Fran\u00e7ois", "",
     True),
    ("person family first caps", Rule("r", people=PROVOST), "PROVOST Fran\u00e7ois", "", True),
    ("person initial", Rule("r", people=PROVOST), "F. Provost", "", True),
    ("person wrong initial", Rule("r", people=PROVOST), "M. Provost", "", False),
    ("person family alone", Rule("r", people=PROVOST), "Provost", "", False),
    ("person particle", Rule("r", people=LE_VOT), "Denis Le Vot", "", True),
    ("person particle family first", Rule("r", people=LE_VOT), "LE VOT, Denis", "", True),
    ("person alias", Rule("r", people=DE_MEO), "De Meo's plan", "", True),
    ("person one of several", Rule("r", people=PROVOST + DE_MEO), "Luca de Meo", "", True),
    ("person hyphenated", Rule("r", people=(Person("Jean-Pierre Dupont"),)),
     "Jean Pierre DUPONT", "", True),
    ("fuzzy above", Rule("r", people=PROVOST, fuzzy=90), "Fran\u00e7ois Provoost", "", True),
    ("fuzzy below", Rule("r", people=PROVOST, fuzzy=90), "Fran\u00e7ois Pr\u00e9vost", "",
     False),
    ("fuzzy off", Rule("r", people=PROVOST), "Fran\u00e7ois Provoost", "", False),
    ("fuzzy at threshold", Rule("r", query="redressement", fuzzy=92), "redresement", "", True),
    ("fuzzy just below", Rule("r", query="redressement", fuzzy=92), "redressemnet", "", False),
    ("fuzzy short words exact", Rule("r", query='"cessation de paiements"', fuzzy=80),
     "cessation des paiements", "", False),
    ("fuzzy phrase", Rule("r", query='"liquidation judiciaire"', fuzzy=92),
     "liquidations judiciaires", "", True),
    ("fuzzy never on wildcard", Rule("r", query="liquid*", fuzzy=50), "lqiuid", "", False),
    ("fields title only", Rule("r", query="Douai", fields=("title",)), "", "Douai", False),
    ("fields summary only", Rule("r", query="Douai", fields=("summary",)), "", "Douai", True),
    ("feeds listed", Rule("r", query="Renault", feeds=("Les Echos",)), "Renault", "", True),
    ("feeds not listed", Rule("r", query="Renault", feeds=("BFM",)), "Renault", "", False),
    ("tags carried", Rule("r", query="Renault", tags=("auto",)), "Renault", "", True),
    ("tags missing", Rule("r", query="Renault", tags=("tech",)), "Renault", "", False),
    ("min_score met", Rule("r", query="Renault", min_score=80), "Renault", "", True),
    ("min_score missed", Rule("r", query="Renault", min_score=80), "", "Renault", False),
]


@pytest.mark.parametrize(("case", "rule", "title", "summary", "fires"), CASES,
                         ids=[c[0] for c in CASES])
def test_rule_fires(case: str, rule: Rule, title: str, summary: str, fires: bool) -> None:
    matcher = compile_rules([rule])
    item = Item(feed="Les Echos", id="1", title=title, summary=summary)
    fired = [m.rule for m in matcher.match(item, feed_tags={"auto", "fr"})]
    assert fired == (["r"] if fires else [])


def test_hits_show_original_spelling_field_and_ratio() -> None:
    rule = Rule("ceo", query="Ampere AND liquid*", people=PROVOST, fuzzy=85)
    matcher = compile_rules([rule])
    item = Item(feed="f", id="1", title="Fran\u00e7ois Provots liquide d\u2019Amp\u00e8re",
                summary="L'AMP\u00c8RE's end")
    (match,) = matcher.match(item)
    assert [(h.term, h.matched, h.field, h.score) for h in match.hits] == [
        ("Ampere", "Amp\u00e8re", "title", 100),
        ("Ampere", "AMP\u00c8RE", "summary", 100),
        ("liquid*", "liquide", "title", 100),
        ("Fran\u00e7ois Provost", "Fran\u00e7ois Provots", "title", 86),
    ]
    assert match.terms == ["Ampere", "liquid*", "Fran\u00e7ois Provost"]


SCORES = [
    # (rule, title, summary, score): see docs/scoring.md
    (Rule("r", query="Renault"), "Renault", "", 80),
    (Rule("r", query="Renault"), "", "Renault", 68),
    (Rule("r", query="Renault"), "Renault", "Renault", 80),
    (Rule("r", query="Renault AND Ford"), "Renault", "Ford", 83),
    (Rule("r", query="Renault AND Ford AND Nissan"), "Renault Ford Nissan", "", 100),
    (Rule("r", query="redressement", fuzzy=90), "redresement", "", 77),
    (Rule("r", query="Renault AND NOT Ford"), "Renault", "", 80),
]


@pytest.mark.parametrize(("rule", "title", "summary", "score"), SCORES)
def test_scores(rule: Rule, title: str, summary: str, score: int) -> None:
    (match,) = compile_rules([rule]).match(Item(feed="f", id="1", title=title,
                                                summary=summary))
    assert match.score == score


def test_explain_names_terms_places_and_verdict() -> None:
    rule = Rule("ampere", query="(Ampere OR IPO) AND Renault", not_=("Ampere Computing",),
                people=PROVOST, fuzzy=90)
    matcher = compile_rules([rule])
    item = Item(feed="f", id="1", title="Renault : Fran\u00e7ois Provst et Amp\u00e8re",
                summary="")
    text = matcher.explain("ampere", item)
    assert "query: ((Ampere OR IPO) AND Renault)" in text
    assert "Ampere: title 'Amp\u00e8re' (exact)" in text
    assert "IPO: not found" in text
    assert "Fran\u00e7ois Provost: title 'Fran\u00e7ois Provst' (fuzzy 92.3)" in text
    assert '"Ampere Computing" (NOT): not found' in text
    assert "verdict: fires with score" in text
    blocked = Item(feed="f", id="2", title="Renault, Ampere Computing, F. Provost")
    assert "verdict: does not fire: a part above fails" in matcher.explain("ampere", blocked)
    assert "not: fails" in matcher.explain("ampere", blocked)


def test_rules_by_name_in_order() -> None:
    rules = [Rule("b", query="x"), Rule("a", query="y")]
    assert list(compile_rules(rules).rules) == ["b", "a"]
    assert compile_rules(rules).rules["a"] is rules[1]


def test_matches_in_rule_order_and_each_rule_once() -> None:
    matcher = compile_rules([Rule("z", query="Renault"), Rule("a", any=("Renault", "Ford"))])
    item = Item(feed="f", id="1", title="Renault Ford Renault", summary="Renault")
    assert [m.rule for m in matcher.match(item)] == ["z", "a"]
