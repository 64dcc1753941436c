"""The web page (issue 16), served over a store that real daemon runs filled.

- golden chart data (the numbers behind every chart), read the way the page reads them;
- in a real headless Chromium (Debian's, driven by playwright): every page
  loads with no console error and no Content-Security-Policy violation; a
  hostile title and `javascript:`/`data:` links render inert; the token;
  screenshots at desktop and phone sizes, readable (no sideways scroll);
- over plain HTTP: read-only (405), security headers, no secret in any page;
- the config: a token is required off loopback, `${ENV}` substituted.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load
from monitor.errors import ConfigError
from monitor.service.daemon import Daemon
from monitor.service.runtime import build_runtime
from monitor.store import Store
from monitor.web import Snapshot, WebServer
from monitor.web.pages import Pages
from monitor.web.server import environment
from tests.conftest import REPO
from tests.loopback import loopback
from tests.waiting import until
from tests.web_site import XSS_TITLE, Site, fill, news, run, serving, write_config

GOLDEN = REPO / "tests" / "golden" / "web_charts.json"
SHOTS = Path(os.environ.get("NEWSMONITOR_SCREENSHOTS", REPO / "build" / "screenshots"))
TOKEN = "s3cret-web-token"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return fill(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def base(site: Site) -> Iterator[str]:
    yield from serving(site)


@pytest.fixture(scope="module")
def guarded(site: Site) -> Iterator[str]:
    yield from serving(site, TOKEN)


def request(url: str, method: str = "GET", headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def pages_of(site: Site) -> list[str]:
    ids = site.ids
    return ["/", "/feed/news", "/feed/broken", "/rule/ampere", "/rule/xss",
            f"/alert/{ids['ampere']}", f"/alert/{ids['xss']}", f"/alert/{ids['dead']}",
            "/search?q=img", "/search?q=Amp%C3%A8re"]


# ------------------------------------------------------------------ chart data


async def chart_data(site: Site) -> dict[str, Any]:
    store = await Store.open(site.database)
    try:
        pages = Pages(store, site.snapshot, environment(), lambda: site.now,
                      asyncio.Semaphore(2))
        overview = await pages.overview_context()
        news_feed = await pages.feed_context("news")
        broken = await pages.feed_context("broken")
        return {
            "overview": overview["per_day"].data(),
            "health": dict(sorted(overview["health"].items())),
            "outbox": [[o.channel, o.pending, o.retrying, o.dead, o.oldest]
                       for o in overview["outbox"]],
            "rule ampere": (await pages.rule_context("ampere"))["per_day"].data(),
            "rule xss": (await pages.rule_context("xss"))["per_day"].data(),
            "feed news": [news_feed["charts"][0].data(), news_feed["charts"][2].data()],
            "feed broken": [broken["charts"][0].data(), broken["charts"][2].data()],
            "latency": {name: ctx["charts"][1].series[0].values
                        for name, ctx in (("news", news_feed), ("broken", broken))},
        }
    finally:
        await store.close()


async def test_chart_data_of_a_real_daemon_run_matches_golden(site: Site) -> None:
    data = await chart_data(site)
    latency = data.pop("latency")
    for values in latency.values():  # measured, so not golden: three polled days
        assert [v > 0 for v in values] == [False] * 27 + [True] * 3
    if os.environ.get("UPDATE_GOLDEN") or not GOLDEN.exists():
        GOLDEN.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
    assert data == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_chart_data_is_the_same_on_postgresql(tmp_path: Path, pg_schema_url: str) -> None:
    data = run(chart_data(fill(tmp_path, pg_schema_url)))
    data.pop("latency")
    assert data == json.loads(GOLDEN.read_text(encoding="utf-8"))


# ------------------------------------------------------------------ over HTTP


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_head(base: str, guarded: str, method: str) -> None:
    for root in (base, guarded):
        for path in ("/", "/search?q=x", "/nowhere", "/healthz"):
            status, headers, _ = request(root + path, method)
            assert status == 405, (root, path)
            assert headers["Allow"] == "GET,HEAD"
    assert request(base + "/", "HEAD")[0] == 200


def test_every_answer_carries_the_security_headers(base: str, guarded: str,
                                                    site: Site) -> None:
    for url in [base + p for p in pages_of(site)] + [base + "/nowhere", guarded + "/"]:
        _, headers, _ = request(url)
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp and "unsafe" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_no_secret_in_any_page(base: str, site: Site) -> None:
    for path in pages_of(site):
        status, headers, body = request(base + path)
        assert status == 200, path
        for secret in ("secret-path-token", "hush", TOKEN):
            assert secret not in body and secret not in str(headers), (path, secret)
        assert XSS_TITLE not in body  # only ever escaped


def test_token_is_required_where_configured(guarded: str) -> None:
    assert request(guarded + "/")[0] == 401
    assert request(guarded + "/metrics")[0] == 401
    assert request(guarded + "/?token=wrong")[0] == 401
    assert request(guarded + "/", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert request(guarded + "/", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert request(guarded + "/healthz")[0] == 200  # for probes: it shows nothing


def test_a_reload_changes_the_token(site: Site) -> None:
    tokens = ["first"]
    server = WebServer("127.0.0.1:0", site.database, lambda: site.snapshot(tokens[-1]),
                       time.monotonic, lambda: b"")
    root = f"http://127.0.0.1:{server.start()}"
    try:
        assert request(root + "/", headers={"Authorization": "Bearer first"})[0] == 200
        tokens.append("second")  # what the daemon's snapshot says after a reload
        assert request(root + "/", headers={"Authorization": "Bearer first"})[0] == 401
        assert request(root + "/", headers={"Authorization": "Bearer second"})[0] == 200
    finally:
        server.stop()


def test_a_rule_gone_from_the_config_keeps_its_page_while_it_has_alerts(site: Site) -> None:
    def without_rules() -> Snapshot:
        snap = site.snapshot()
        return replace(snap, settings=replace(snap.settings, rules=()))
    server = WebServer("127.0.0.1:0", site.database, without_rules, time.monotonic, lambda: b"")
    root = f"http://127.0.0.1:{server.start()}"
    try:
        status, _, body = request(root + "/rule/xss")
        assert status == 200 and "Not in the configuration" in body
        assert "des balises onerror et alert repérées" in body
        assert request(root + "/rule/never-fired")[0] == 404
    finally:
        server.stop()


def test_unknown_feed_rule_or_alert_is_404(base: str) -> None:
    for path in ("/feed/none", "/rule/none", "/alert/999999", "/alert/x"):
        assert request(base + path)[0] == 404


def test_a_failing_database_is_a_503_and_healthz_still_answers(tmp_path: Path) -> None:
    site = fill(tmp_path)
    for root in serving(site):
        with sqlite3.connect(site.database) as db:
            db.execute("DROP TABLE alerts")
        status, _, body = request(root + "/")
        assert status == 503 and "database" in body
        assert request(root + "/healthz")[0] == 200


# ------------------------------------------------------------------ the config


@pytest.mark.parametrize(("http", "token", "ok"), [
    ("127.0.0.1:9464", "", True), ("[::1]:9464", "", True), ("localhost:9464", "", True),
    ("0.0.0.0:9464", "", False), ("192.168.1.5:9464", "", False),
    ("0.0.0.0:9464", "${WEB_TOKEN}", True)])
def test_check_wants_a_token_off_loopback(tmp_path: Path, http: str, token: str,
                                          ok: bool) -> None:
    with loopback() as server:
        config = write_config(tmp_path, server, server, 9, http=http, token=token)
        if ok:
            settings = load(config, {"WEB_TOKEN": "from-env"})
            assert settings.monitor.http_token == ("from-env" if token else "")
        else:
            with pytest.raises(ConfigError, match="http_token"):
                load(config, {})


def test_an_unset_token_variable_is_an_error(tmp_path: Path) -> None:
    with loopback() as server:
        config = write_config(tmp_path, server, server, 9, token="${WEB_TOKEN}")
        with pytest.raises(ConfigError, match="WEB_TOKEN is not set"):
            load(config, {})


# ------------------------------------------------------------------ the daemon


async def test_the_daemon_serves_the_page_healthz_and_metrics(tmp_path: Path) -> None:
    with loopback() as feed, loopback() as hook:
        feed.route("/news", body=news(0))
        feed.route("/broken", body=b"", status=500)
        config = write_config(tmp_path, feed, hook, hook.port, token=TOKEN)
        daemon = Daemon(config, build_runtime(config))
        task = asyncio.create_task(daemon.run())
        try:
            await until(lambda: daemon.http_port != 0 and len(hook.posts()) >= 2)
            root = f"http://127.0.0.1:{daemon.http_port}"
            auth = {"Authorization": f"Bearer {TOKEN}"}
            status, _, body = await asyncio.to_thread(request, root + "/", "GET", auth)
            assert status == 200 and "Ampère et Renault signent" in body
            assert (await asyncio.to_thread(request, root + "/healthz"))[0] == 200
            status, _, body = await asyncio.to_thread(request, root + "/metrics", "GET", auth)
            assert status == 200 and "newsmonitor_polls_total" in body
        finally:
            daemon.stop()
            await asyncio.wait_for(task, 20)


# ------------------------------------------------------------------ in Chromium


class Watched:
    """A page with every console error, page error, dialog and CSP violation recorded."""

    # Runs before the page's own content (it is the browser's, not the page's
    # script, so the CSP does not apply to it): records violations and any
    # attempt of the page to run a script.
    PROBE = """
      window.__violations = [];
      document.addEventListener('securitypolicyviolation',
        e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
    """

    def __init__(self, browser: Any, width: int = 1280, height: int = 800) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.page.add_init_script(self.PROBE)
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def visit(self, url: str) -> Any:
        response = self.page.goto(url, wait_until="load")
        self.page.wait_for_timeout(100)  # an onerror would fire by now
        violations = self.page.evaluate("window.__violations")
        assert not self.problems and not violations, (url, self.problems, violations)
        return response

    def close(self) -> None:
        self.context.close()


def test_every_page_loads_clean_in_chromium(browser: Any, base: str, site: Site) -> None:
    watched = Watched(browser)
    try:
        for path in pages_of(site):
            response = watched.visit(base + path)
            assert response.status == 200, path
            assert watched.page.locator("h1").count() == 1
    finally:
        watched.close()


def test_hostile_titles_and_links_are_inert(browser: Any, base: str, site: Site) -> None:
    ids = site.ids
    watched = Watched(browser)
    try:
        for path in ("/", "/feed/news", f"/alert/{ids['xss']}", "/search?q=img",
                     "/rule/xss"):
            watched.visit(base + path)
            page = watched.page
            assert page.get_by_text(XSS_TITLE).count() >= 1, path  # shown, as text
            assert page.locator("img").count() == 0, path
            hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.href)")
            assert all(h.startswith(base) or h.startswith("https://") for h in hrefs), hrefs
    finally:
        watched.close()


def test_the_token_in_a_browser(browser: Any, guarded: str) -> None:
    watched = Watched(browser)
    try:
        response = watched.page.goto(guarded + "/")
        assert response.status == 401
        watched.page.wait_for_timeout(100)
        watched.problems.clear()  # Chromium logs the 401 itself
        response = watched.visit(guarded + f"/feed/news?token={TOKEN}")
        assert response.status == 200
        assert watched.page.url == guarded + "/feed/news"  # the token left the address
        assert watched.visit(guarded + "/rule/ampere").status == 200  # by its cookie
        cookies = watched.context.cookies()
        assert cookies and all(TOKEN not in c["value"] and c["httpOnly"] for c in cookies)
    finally:
        watched.close()


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_screenshots_and_readable_sizes(browser: Any, base: str, site: Site,
                                        width: int, height: int) -> None:
    ids = site.ids
    SHOTS.mkdir(parents=True, exist_ok=True)
    watched = Watched(browser, width, height)
    try:
        for name, path in (("overview", "/"), ("feed", "/feed/news"),
                           ("rule", "/rule/ampere"), ("alert", f"/alert/{ids['ampere']}")):
            watched.visit(base + path)
            page = watched.page
            page.screenshot(path=str(SHOTS / f"{name}-{width}x{height}.png"), full_page=True)
            # Readable: the page never scrolls sideways (wide tables scroll
            # in their own box), and text is not shrunk below 12 px.
            assert page.evaluate("document.documentElement.scrollWidth") <= width, path
            smallest = page.evaluate(
                "Math.min(...[...document.querySelectorAll('td, dd, p, li')]"
                ".map(e => parseFloat(getComputedStyle(e).fontSize)))")
            assert smallest >= 12, (path, smallest)
    finally:
        watched.close()

