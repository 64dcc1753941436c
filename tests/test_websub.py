"""WebSub's pure side (poll/websub.py) as tables: discovery from the
corpus's real feeds and from `Link` headers, signatures of every method,
and each subscription's next step on a fake clock (renewal before expiry);
the subscriptions table on SQLite and PostgreSQL; `check` of public_url;
requests to hubs on loopback servers (none into a private network)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from monitor.cli import main
from monitor.config import FetchLimits, load
from monitor.errors import ConfigError, ConnectionFailedError, FetchError, HTTPStatusError
from monitor.models import Subscription
from monitor.poll import websub
from monitor.poll.fetcher import make_session
from monitor.poll.hubclient import ask_hub
from monitor.poll.parser import parse_feed
from monitor.service.websub import safety_interval
from monitor.store import Store
from tests import configs
from tests.loopback import LoopbackServer
from tests.test_readme import toml_block

DAY = 86400.0
T0 = 1_800_000_000.0

# The feed-level hub and self links of the corpus's feeds that advertise one
# (the entries' own rel="self" links, Blogger's, are not the feed's).
CORPUS_HUBS = [
    ("en_arstechnica_rss2.xml", "http://pubsubhubbub.appspot.com/",
     "http://feeds.arstechnica.com/arstechnica/index"),
    ("en_samruby_xhtml_atom.xml", "http://pubsubhubbub.appspot.com/",
     "http://intertwingly.net/blog/index.atom"),
    ("de_golem_latin1_rss2.xml", "http://golem.superfeedr.com/",
     "https://rss.golem.de/rss.php?feed=RSS2.0"),
    ("en_google-testing-blog_atom.xml", "http://pubsubhubbub.appspot.com/",
     "http://feeds.feedburner.com/blogspot/RLXA"),
]


@pytest.mark.parametrize(("name", "hub", "topic"), CORPUS_HUBS, ids=[c[0] for c in CORPUS_HUBS])
def test_the_hub_a_real_feed_advertises_is_found(shared: Path, name: str, hub: str,
                                                 topic: str) -> None:
    parsed = parse_feed((shared / "corpus" / "feeds" / "real" / name).read_bytes(), {}, name)
    found = websub.discover({}, parsed.hub, parsed.self_url, "https://fetched.example/feed")
    assert found == websub.HubLink(hub, topic)


def test_a_feed_without_a_hub_has_none(shared: Path) -> None:
    path = shared / "corpus" / "feeds" / "real" / "fr_lefigaro_bourse_rss2.xml"
    parsed = parse_feed(path.read_bytes(), {}, "bourse")
    assert websub.discover({}, parsed.hub, parsed.self_url, "https://x/feed") is None


URL = "https://news.example/feed.xml"
DISCOVERY = [
    # (Link header, document's hub, document's self, expected (hub, topic) or None)
    ('<https://hub.example/>; rel="hub", <https://news.example/self>; rel="self"', "", "",
     ("https://hub.example/", "https://news.example/self")),
    ('<https://hub.example/>; rel=hub', "", "", ("https://hub.example/", URL)),
    ('</hub>; rel="hub"', "", "", ("https://news.example/hub", URL)),        # relative
    ('<https://a/>; rel="hub", <https://b/>; rel="hub"', "", "", ("https://a/", URL)),
    ('<https://h/>; rel="self hub"', "", "", ("https://h/", "https://h/")),  # two relations
    ('<https://hub.example/>; rel="hub"', "https://other/", "https://s/",   # the header wins
     ("https://hub.example/", URL)),
    ("", "https://doc-hub/", "https://news.example/self",
     ("https://doc-hub/", "https://news.example/self")),
    ('<https://news.example/>; rel="alternate"', "", "", None),
    ('<javascript:alert(1)>; rel="hub"', "", "", None),                     # not http(s)
    ("", "", "https://news.example/self", None),
]


@pytest.mark.parametrize(("link", "hub", "self_url", "expected"), DISCOVERY)
def test_discovery_reads_the_link_header_first(link: str, hub: str, self_url: str,
                                               expected: tuple[str, str] | None) -> None:
    found = websub.discover({"link": link} if link else {}, hub, self_url, URL)
    assert found == (websub.HubLink(*expected) if expected else None)


BODY = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_each_signature_method_is_checked(method: str) -> None:
    digest = hmac.new(b"s3cret", BODY, getattr(hashlib, method)).hexdigest()
    assert websub.check_signature("s3cret", f"{method}={digest}", BODY) == "ok"
    assert websub.check_signature("s3cret", f"{method.upper()}={digest.upper()}", BODY) == "ok"
    assert websub.check_signature("other", f"{method}={digest}", BODY) == "wrong"
    assert websub.check_signature("s3cret", f"{method}={digest}", BODY + b" ") == "wrong"


@pytest.mark.parametrize(("header", "verdict"), [
    (None, "unsigned"), ("", "unsigned"), ("md5=abc", "unknown method"),
    ("sha256=", "wrong"), ("sha256=zz", "wrong"), ("sha256", "wrong"),
])
def test_a_missing_or_malformed_signature_is_refused(header: str | None, verdict: str) -> None:
    assert websub.check_signature("s3cret", header, BODY) == verdict


def sub(state: str = "active", requested: float = T0, lease: float | None = 10 * DAY,
        **more: object) -> Subscription:
    until = requested + lease if lease is not None else None
    return replace(Subscription("news", "https://hub/", "https://news/feed", "cb", "secret",
                                state, requested, until), **more)


STEPS = [
    # (subscription, seconds after T0, feed still wanted, expected step)
    (sub(), 1, True, "none"),
    (sub(), 8.9 * DAY, True, "none"),
    (sub(), 9 * DAY, True, "renew"),                 # a day before a 10-day lease ends
    (sub(lease=100), 79, True, "none"),
    (sub(lease=100), 80, True, "renew"),             # a fifth of a short lease left
    (sub(lease=12), 1, True, "none"),
    (sub(lease=12), 2, True, "renew"),               # at least 10 s before the end
    (sub(), 10 * DAY, True, "subscribe"),            # lapsed: the hub no longer pushes
    (sub("requested", lease=None), 60, True, "none"),
    (sub("requested", lease=None), websub.RETRY, True, "subscribe"),  # never verified
    (sub("denied", lease=None), 3600, True, "none"),
    (sub("denied", lease=None), DAY, True, "subscribe"),
    (sub("unsubscribing"), 1, True, "subscribe"),    # the feed came back
    (sub(), 1, False, "unsubscribe"),                # the feed left the config
    (sub("requested", lease=None), 1, False, "unsubscribe"),
    (sub("denied", lease=None), 1, False, "forget"),
    (sub("unsubscribing"), 60, False, "none"),       # the hub has not confirmed yet
    (sub("unsubscribing"), websub.RETRY, False, "unsubscribe"),
    (sub("unsubscribing"), 10 * DAY, False, "forget"),  # its lease is over anyway
]


@pytest.mark.parametrize(("subscription", "after", "wanted", "step"), STEPS)
def test_next_step(subscription: Subscription, after: float, wanted: bool, step: str) -> None:
    assert websub.next_step(subscription, T0 + after, wanted) == step


ASKED = sub("requested", lease=None, pending="subscribe")
RENEWING = sub(pending="subscribe")
LEAVING = sub("unsubscribing", pending="unsubscribe")
VERIFICATIONS = [
    # (subscription, mode, topic, seconds after its request, expected)
    (ASKED, "subscribe", "https://news/feed", 5, True),
    (ASKED, "subscribe", "https://other/feed", 5, False),
    (ASKED, "subscribe", "https://news/feed", 2 * 3600, False),      # asked long ago
    (RENEWING, "subscribe", "https://news/feed", 60, True),           # a renewal we asked
    (RENEWING, "subscribe", "https://news/feed", 2 * 3600, False),    # nobody asked since
    (sub(), "subscribe", "https://news/feed", 60, False),   # verified already: a replay
    (sub("requested", lease=None), "subscribe", "https://news/feed", 5, False),  # replay
    (sub(), "unsubscribe", "https://news/feed", 5, False),
    (LEAVING, "unsubscribe", "https://news/feed", 5, True),
    (sub("unsubscribing"), "unsubscribe", "https://news/feed", 5, False),  # a replay
    (LEAVING, "subscribe", "https://news/feed", 5, False),
    (ASKED, "denied", "https://news/feed", 5, True),
    (RENEWING, "denied", "https://news/feed", 5, False),  # the hub verified it: it holds
    (sub(), "denied", "https://news/feed", 5, False),
    (sub("denied", lease=None), "denied", "https://news/feed", 5, False),
    (sub(), "bogus", "https://news/feed", 5, False),
]


@pytest.mark.parametrize(("subscription", "mode", "topic", "after", "ok"), VERIFICATIONS)
def test_a_challenge_is_answered_only_for_what_we_asked(
        subscription: Subscription, mode: str, topic: str, after: float, ok: bool) -> None:
    assert websub.expected(subscription, mode, topic, T0 + after) is ok


@pytest.mark.parametrize(("lease", "gap"), [
    (12.0, 5.0), (300.0, 240.0), (DAY, 0.8 * DAY), (10 * DAY, 9 * DAY), (30 * DAY, 29 * DAY)])
def test_a_lease_is_renewed_before_it_runs_out_for_months(lease: float, gap: float) -> None:
    """A fake clock ticking every 5 s (the websub tick) and a hub that
    verifies each request within a second: the subscription never lapses,
    and renewals come `gap` apart at least (not at every tick)."""
    now, current, renewed = T0, sub(lease=lease), [T0]
    tick = 5.0
    for _ in range(int(min(90 * DAY, 40 * lease) / tick)):
        now += tick
        assert current.lease_until is not None and now < current.lease_until
        if websub.next_step(current, now, True) == "renew":
            renewed.append(now)
            current = replace(current, requested=now, lease_until=now + 1 + lease)
    assert len(renewed) > 3
    assert min(b - a for a, b in itertools.pairwise(renewed)) >= gap - tick


def test_a_pushed_feed_is_polled_at_its_max_interval(tmp_path: Path) -> None:
    """[monitor]'s max_interval, or the feed's; a feed configured slower
    than that keeps its interval (WebSub never polls more)."""
    settings = load(configs.write(tmp_path, monitor={"interval": "5m", "max_interval": "3h"},
                                  feeds=[{"name": "a", "url": "https://x/a"},
                                         {"name": "b", "url": "https://x/b",
                                          "max_interval": "6h"},
                                         {"name": "c", "url": "https://x/c",
                                          "interval": "12h"}]))
    assert [safety_interval(f) for f in settings.feeds] == [3 * 3600.0, 6 * 3600.0,
                                                             12 * 3600.0]


async def test_subscriptions_are_stored(database_url: str) -> None:
    """Requested → verified only with its topic, once → denied or forgotten."""
    store = await Store.open(database_url)
    try:
        asked = sub("requested", lease=None, callback="cb1", pending="subscribe")
        await store.websub.save(asked)
        assert await store.websub.by_callback("cb1") == asked
        assert await store.websub.by_callback("cb2") is None
        assert not await store.websub.verified("cb1", "https://other/topic", T0 + DAY)
        assert await store.websub.verified("cb1", asked.topic, T0 + DAY)
        [active] = await store.websub.all()
        assert (active.state, active.lease_until, active.secret) == ("active", T0 + DAY,
                                                                     "secret")
        # The request was answered: the same verification again is refused.
        assert not await store.websub.verified("cb1", asked.topic, T0 + 9 * DAY)
        assert not await store.websub.denied("cb1", asked.topic, "replayed")
        assert await store.websub.all() == [active]
        assert not await store.websub.forget("cb1")     # only an unsubscribing one
        await store.websub.save(replace(active, state="unsubscribing"))
        assert await store.websub.forget("cb1", asked.topic)
        assert await store.websub.all() == []
        await store.websub.save(asked)
        assert await store.websub.denied("cb1", asked.topic, "no thanks")
        assert (await store.websub.all())[0].error == "no thanks"
        assert "secret" not in repr(asked)
    finally:
        await store.close()


GOOD = configs.text(monitor={"database": "state.sqlite3", "default_channels": ["console"],
                             "http": "127.0.0.1:9464",
                             "public_url": "https://news.example.org/monitor"},
                    channels={"console": "console://"},
                    feeds=[{"name": "a feed", "url": "https://example.org/feed.xml"}],
                    rules=[{"name": "ampere", "query": "Ampere AND Renault"}])
PUBLIC_URL_CASES: list[tuple[str, Callable[[str], str], str]] = [
    ("not absolute", lambda t: t.replace("https://news.example.org/monitor", "/monitor"),
     "monitor.public_url: '/monitor' is not an absolute http(s) URL"),
    ("not http", lambda t: t.replace("https://news.example.org/monitor", "ftp://x/"),
     "monitor.public_url: 'ftp://x/' is not an absolute http(s) URL"),
    ("a query", lambda t: t.replace("/monitor", "/monitor?a=b"),
     "monitor.public_url: 'https://news.example.org/monitor?a=b': no user, query"),
    ("no http endpoint", lambda t: t.replace('http = "127.0.0.1:9464"\n', ""),
     "monitor.public_url: WebSub needs the http endpoint; set monitor.http"),
]


def test_check_accepts_a_public_url(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert main(["check", "--config", str(path)]) == 0


@pytest.mark.parametrize(("what", "change", "expected"), PUBLIC_URL_CASES,
                         ids=[c[0] for c in PUBLIC_URL_CASES])
def test_check_validates_public_url(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    what: str, change: Callable[[str], str],
                                    expected: str) -> None:
    path = tmp_path / "monitor.toml"
    changed = change(GOOD)
    assert changed != GOOD, what
    path.write_text(changed, encoding="utf-8")
    assert main(["check", "--config", str(path)]) == 1
    assert expected in capsys.readouterr().err


def test_the_readme_example_turns_websub_on(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(toml_block("<!-- websub-example -->"), encoding="utf-8")
    monitor = load(path, {"WEB_TOKEN": "t"}).monitor
    assert (monitor.public_url, monitor.http) == ("https://news.example.org", "127.0.0.1:9464")


@pytest.mark.parametrize(("value", "public_url"), [("https://a.example", "https://a.example"),
                                                   ("", "")])
def test_public_url_from_the_environment(tmp_path: Path, value: str, public_url: str) -> None:
    """WebSub on one instance of several sharing a config (README)."""
    path = configs.write(tmp_path, monitor={"http": "127.0.0.1:9464",
                                            "public_url": "${NEWSMONITOR_PUBLIC_URL}"})
    assert load(path, {"NEWSMONITOR_PUBLIC_URL": value}).monitor.public_url == public_url
    with pytest.raises(ConfigError, match=r"monitor\.public_url: 'ftp://x' is not an absolute"):
        load(path, {"NEWSMONITOR_PUBLIC_URL": "ftp://x"})


FORM = {"hub.mode": "subscribe", "hub.topic": "https://news/feed",
        "hub.callback": "https://me.example/websub/cb", "hub.secret": "s3cret"}


async def test_a_hub_on_another_private_host_is_not_asked(server: LoopbackServer) -> None:
    """A feed names its hub: a stranger's feed must not make us POST into the
    user's network (issue 14's rule for redirects, kept for hubs). The feed's
    own host, or allow_private_networks, may be private."""
    async with LoopbackServer("127.0.0.4") as hub:
        hub.route("/hub", status=202)
        async with make_session() as session:
            with pytest.raises(ConnectionFailedError, match="hub on a non-public address"):
                await ask_hub(session, hub.url("/hub"), FORM, feed_url=server.url("/f"),
                              limits=FetchLimits())
            assert hub.count() == 0
            assert await ask_hub(session, hub.url("/hub"), FORM,
                                 feed_url=hub.url("/feed.xml"), limits=FetchLimits()) == 202
            assert await ask_hub(session, hub.url("/hub"), FORM, feed_url=server.url("/f"),
                                 limits=FetchLimits(allow_private_networks=True)) == 202
        assert [dict(parse_qsl(h.body.decode())) for h in hub.hits] == [FORM, FORM]


@pytest.mark.parametrize(("hub", "asked"), [
    ("http://hub.example.org/", False), ("http://[::1]:9/", True),
    ("http://localhost:9/", True), ("https://hub.example.org/", True)])
async def test_the_secret_never_goes_to_a_hub_over_plain_http(hub: str, asked: bool) -> None:
    """Anyone on the way would read it and sign pushes of their own; a hub on
    this machine is the exception (nothing travels). The others are asked:
    nothing listens on port 9 here, and no DNS answers for example.org."""
    async with make_session() as session:
        with pytest.raises(FetchError) as refused:
            await ask_hub(session, hub, FORM, feed_url=hub, limits=FetchLimits(
                allow_private_networks=True, connect_timeout=2, total_timeout=2))
    assert ("plain http not used" in str(refused.value)) is not asked
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize("status", [302, 400, 500])
async def test_a_hub_that_refuses_is_an_error(server: LoopbackServer, status: int) -> None:
    server.route("/hub", status=status, headers={"Location": "/elsewhere"})
    async with make_session() as session:
        with pytest.raises(HTTPStatusError, match=f"HTTP {status}"):
            await ask_hub(session, server.url("/hub"), FORM, feed_url=server.url("/f"),
                          limits=FetchLimits())
    assert server.count("/elsewhere") == 0


@pytest.mark.parametrize(("given", "seconds"), [
    ("86400", 86400), ("0086400", 86400), ("1", 1), (str(30 * 86400), 30 * 86400),
    # Longer than LEASE_MAX (30 days): held as 30 days, renewed against that.
    (str(30 * 86400 + 1), 30 * 86400), ("99999999", 30 * 86400), ("9" * 13, 30 * 86400),
    ("9" * 5000, 30 * 86400),
    # Not a positive integer: refused.
    (None, None), ("", None), ("0", None), ("000", None), ("-5", None), ("+5", None),
    ("abc", None), ("1e20", None), ("1e3", None), ("1.5", None), (" 60", None),
    ("²", None), ("٣٠", None)])
def test_a_lease_is_a_positive_integer_capped(given: str | None, seconds: int | None) -> None:
    # "²" and Arabic-Indic digits pass str.isdigit and failed int(): a 500.
    assert websub.granted_lease(given) == seconds
