"""WebSub end to end (issue 18): a real daemon (subprocess), a publisher's
feed and a hub written for the tests (tests/websub_hub.py) on loopback.

subscribe → the hub verifies our intent → a new item pushed, signed → the
alert at the receiver in under 2 s with no request to the feed in between;
a wrong signature, an unsigned push, a push for a topic or a callback we do
not hold and a body over max_body refused and logged; a verification we did
not ask for refused; the lease renewed before it runs out; the feed removed
from the config unsubscribed (the hub gets hub.mode=unsubscribe)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from monitor.cli import main
from tests import configs
from tests.daemon_proc import DaemonProcess
from tests.loopback import LoopbackServer
from tests.servers import rss
from tests.waiting import wait_for
from tests.websub_hub import websub_hub

FIRST = ("w0", "Météo : un week-end ensoleillé sur la Bretagne")
PUSHED = ("w1", "Ampere signe un contrat de batteries avec un fabricant coréen")
FORGED = ("w2", "Ampere rachète une startup suédoise de recyclage au prix fort")
LEASE = 20  # seconds the hub grants: renewed within the test


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hub_rss(items: list[tuple[str, str]], hub: str, topic: str) -> bytes:
    """servers.rss with the channel's atom:link rel="hub" and rel="self"."""
    links = (f'<atom:link rel="hub" href="{hub}"/>'
             f'<atom:link rel="self" href="{topic}" type="application/rss+xml"/>')
    return rss(items).replace(
        b'<rss version="2.0"><channel>',
        f'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>{links}'
        .encode())


def settled(server: LoopbackServer, path: str, quiet: float = 2.5) -> int:
    """The requests to `path` once none came for `quiet` seconds (a feed
    polled every second is then no longer polled so)."""
    deadline, last = time.monotonic() + 30, server.count(path)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        if server.count(path) == last:
            return last
        last = server.count(path)
    raise AssertionError(f"{path} still requested every few seconds")


def status_of(url: str, method: str = "GET") -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, data=None)):
            return 200
    except urllib.error.HTTPError as exc:
        return exc.code


def write_config(tmp: Path, port: int, feed: LoopbackServer, hook: LoopbackServer,
                 *, with_feed: bool = True) -> Path:
    return configs.write(
        tmp, monitor={"database": tmp / "state.sqlite3", "default_channels": ["hook"],
                      "http": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}",
                      "http_token": "page-token", "max_body": "64KiB", "jitter": 0.0,
                      "max_interval": "1h"},
        channels={"hook": hook.webhook("/h")},
        # Polled every second until pushed; then at max_interval (1h): the
        # safety net, and no request to the feed for the rest of the test.
        feeds=[{"name": "news", "url": feed.url("/f"), "interval": "1s"}] if with_feed else [],
        rules=[configs.AMPERE])


def test_websub_subscribe_push_refuse_renew_unsubscribe(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer) -> None:
    port = free_port()
    with websub_hub(lease=LEASE) as hub:
        topic = feed.url("/f")
        feed.route("/f", body=hub_rss([FIRST], hub.url, topic))
        config = write_config(tmp_path, port, feed, receiver)
        daemon = DaemonProcess(config, tmp_path)
        try:
            daemon.wait_log("new items feed=news new=1")
            subscriber = hub.wait_verified(topic)
            daemon.wait_log("websub subscribed feed=news")
            assert subscriber.callback.startswith(f"http://127.0.0.1:{port}/websub/")

            # The poll after the verification is the last for an hour.
            polls = settled(feed, "/f")

            # A new item pushed: alerted in under 2 s, the feed not requested.
            started = time.monotonic()
            assert hub.publish(topic, hub_rss([PUSHED, FIRST], hub.url, topic)) == 200
            wait_for(lambda: bool(receiver.posts()), timeout=2)
            took = time.monotonic() - started
            assert [p["title"] for p in receiver.posts()] == [
                f"[newsmonitor] ampere: {PUSHED[1]}"]
            assert took < 2 and feed.count("/f") == polls

            # Refused and logged: each carries a new matching item, none alerted.
            forged = hub_rss([FORGED, PUSHED, FIRST], hub.url, topic)
            assert hub.publish(topic, forged, sign="wrong") == 403
            daemon.wait_log("websub push refused reason=wrong signature feed=news")
            assert hub.publish(topic, forged, sign="none") == 403
            daemon.wait_log("websub push refused reason=unsigned feed=news")
            assert hub.publish(topic, forged, self_link=feed.url("/other")) == 404
            daemon.wait_log("websub push refused reason=unknown topic feed=news")
            stranger = f"http://127.0.0.1:{port}/websub/not-a-subscription"
            assert hub.publish(topic, forged, callback=stranger) == 404
            daemon.wait_log("websub push refused reason=unknown subscription")
            assert hub.publish(topic, forged + b" " * 65536) == 413
            daemon.wait_log("websub push refused reason=too large")
            assert hub.publish(topic, forged + b" " * 65536, chunked=True) == 413
            daemon.wait_log("websub push refused reason=too large", count=2)

            # Counted: /metrics (behind the token).
            metrics = urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/metrics",
                headers={"Authorization": "Bearer page-token"})).read().decode()
            # The callback unknown and the bodies too large are refused in the
            # web thread, before the daemon sees them: counted all the same.
            for result, count in (("recorded", 1), ("wrong", 1), ("unsigned", 1),
                                  ("unknown topic", 1), ("unknown subscription", 1),
                                  ("too large", 2)):
                assert f'newsmonitor_websub_pushes_total{{result="{result}"}} {count}.0' \
                    in metrics, metrics

            # The callback needs no token (a hub has none); the page still does,
            # and stays read-only.
            assert status_of(f"http://127.0.0.1:{port}/") == 401
            assert status_of(f"http://127.0.0.1:{port}/", "POST") == 405
            assert status_of(f"http://127.0.0.1:{port}/websub/x", "PUT") == 405

            # A verification we did not ask for: no challenge echoed.
            assert hub.verify(subscriber.callback, "subscribe", feed.url("/other"))[0] == 404
            assert hub.verify(stranger, "subscribe", topic)[0] == 404
            assert hub.verify(subscriber.callback, "unsubscribe", topic)[0] == 404
            daemon.wait_log("websub verification refused, not asked")
            # The hub's own verification replayed (within the hour of our
            # request), a lease stretched to years, a denial of what the hub
            # verified: refused, the subscription as the hub left it.
            assert hub.verify(subscriber.callback, "subscribe", topic)[0] == 404
            assert hub.verify(subscriber.callback, "subscribe", topic, "99999999")[0] == 404
            assert hub.verify(subscriber.callback, "denied", topic)[0] == 404
            assert hub.publish(topic, hub_rss([PUSHED, FIRST], hub.url, topic)) == 200
            metrics = urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/metrics",
                headers={"Authorization": "Bearer page-token"})).read().decode()
            assert 'newsmonitor_websub_verifications_total{result="not asked"} 6.0' in metrics

            # The lease is renewed before it runs out (the hub's own clock).
            wait_for(lambda: hub.modes(topic).count("subscribe") >= 2, timeout=LEASE + 5)
            assert hub.asked[1] < hub.granted[0] + LEASE
            daemon.wait_log("websub subscribed feed=news", count=2)

            # Polled every second before; not once since it is pushed (~15 s).
            assert feed.count("/f") == polls

            # The feed leaves the config: the hub is asked to unsubscribe, and
            # confirms; a push after that is refused.
            write_config(tmp_path, port, feed, receiver, with_feed=False)
            wait_for(lambda: "unsubscribe" in hub.modes(topic))
            daemon.wait_log("websub unsubscribed feed=news")
            wait_for(lambda: not hub.subscribers)

            time.sleep(0.5)
            assert len(receiver.posts()) == 1  # nothing forged ever alerted
            code, _ = daemon.stop()
            assert code == 0, daemon.log
            assert "Traceback" not in daemon.log
        finally:
            daemon.close()


def test_a_subscription_outlives_a_restart(tmp_path: Path, feed: LoopbackServer,
                                           receiver: LoopbackServer, database_url: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The subscription, its callback and secret are in the store (SQLite or
    PostgreSQL), and `status` shows it (not its secret): after a restart the
    hub's next push is taken at once, with no new subscription request while
    the lease runs."""
    port = free_port()
    with websub_hub() as hub:
        topic = feed.url("/f")
        feed.route("/f", body=hub_rss([FIRST], hub.url, topic))
        config = write_config(tmp_path, port, feed, receiver)
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace(str(tmp_path / "state.sqlite3"), database_url),
                          encoding="utf-8")
        for run in range(2):
            (tmp_path / f"run{run}").mkdir()  # a notify socket per run
            daemon = DaemonProcess(config, tmp_path / f"run{run}")
            try:
                daemon.wait_notify("READY=1")
                hub.wait_verified(topic)
                if run == 1:
                    assert hub.publish(topic, hub_rss([PUSHED, FIRST], hub.url, topic)) == 200
                    wait_for(lambda: bool(receiver.posts()), timeout=2)
                else:
                    daemon.wait_log("websub subscribed feed=news")
                assert daemon.stop()[0] == 0, daemon.log
            finally:
                daemon.close()
            capsys.readouterr()
            assert main(["status", "--json", "--config", str(config)]) == 0
            out = capsys.readouterr().out
            [sub] = json.loads(out)["websub"]
            assert (sub["feed"], sub["hub"], sub["topic"], sub["state"]) == (
                "news", hub.url, topic, "active")
            assert hub.wait_verified(topic).secret not in out
            assert main(["status", "--config", str(config)]) == 0
            assert "PUSHED FEED (WEBSUB)" in capsys.readouterr().out
    assert hub.modes(topic) == ["subscribe"]
    assert [p["title"] for p in receiver.posts()] == [f"[newsmonitor] ampere: {PUSHED[1]}"]


def test_a_feed_added_back_is_subscribed_again(tmp_path: Path, feed: LoopbackServer,
                                               receiver: LoopbackServer,
                                               database_url: str) -> None:
    """A feed removed from the config is unsubscribed (the hub confirms, the
    subscription is forgotten); added back, its first poll subscribes it
    again though its body did not change (304): pushes are taken at once,
    not refused until a new item comes by polling."""
    port = free_port()

    def configure(with_feed: bool) -> Path:
        config = write_config(tmp_path, port, feed, receiver, with_feed=with_feed)
        # A safety net of seconds: the feed's first poll once it is back
        # comes soon (its schedule is kept from when it was pushed).
        config.write_text(config.read_text(encoding="utf-8")
                          .replace(str(tmp_path / "state.sqlite3"), database_url)
                          .replace('max_interval = "1h"',
                                   'max_interval = "3s"\nmin_interval = "1s"'),
                          encoding="utf-8")
        return config

    with websub_hub() as hub:
        topic = feed.url("/f")
        feed.route("/f", body=hub_rss([FIRST], hub.url, topic), etag='"v1"')
        daemon = DaemonProcess(configure(with_feed=True), tmp_path)
        try:
            hub.wait_verified(topic)
            daemon.wait_log("websub subscribed feed=news")
            configure(with_feed=False)
            daemon.wait_log("websub unsubscribed feed=news")
            wait_for(lambda: not hub.subscribers)
            polls = feed.count("/f")
            configure(with_feed=True)
            wait_for(lambda: hub.modes(topic).count("subscribe") == 2, timeout=20)
            hub.wait_verified(topic)
            daemon.wait_log("websub subscribed feed=news", count=2)
            assert feed.count("/f") > polls  # polled again, answered 304
            assert hub.publish(topic, hub_rss([PUSHED, FIRST], hub.url, topic)) == 200
            wait_for(lambda: bool(receiver.posts()), timeout=5)
            assert [p["title"] for p in receiver.posts()] == [
                f"[newsmonitor] ampere: {PUSHED[1]}"]
            assert daemon.stop()[0] == 0, daemon.log
            assert "Traceback" not in daemon.log
        finally:
            daemon.close()
