"""Our own network goes down and comes back: the feeds that could not
connect meanwhile are polled at once, not after their backoff."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from monitor.cli import main
from monitor.daemon import Daemon, build_runtime
from monitor.feedhealth import OutageWatch, victims
from monitor.store import FeedState
from tests.loopback import LoopbackServer
from tests.servers import loopback, rss
from tests.waiting import until

T = 1_800_000_000.0


def state(name: str, host: str, *, failures: int = 1, category: str | None = "connection",
          last_poll: float = T, last_success: float | None = None,
          disabled: str | None = None) -> FeedState:
    return FeedState(name=name, url=f"https://{host}/f", current_url=f"https://{host}/f",
                     failures=failures, error_category=category if failures else None,
                     last_poll=last_poll, last_success=last_success, disabled=disabled)


def url(host: str) -> str:
    return f"https://{host}/feed"


def test_a_run_of_unreachable_hosts_ended_by_any_answer_is_an_outage() -> None:
    watch = OutageWatch(min_hosts=3)
    for n, host in enumerate(["a", "b", "a", "c"]):
        assert watch.observe(url(host), "error", "connection", T + n) is None
    assert watch.observe(url("d"), "skipped", None, T + 5) is None  # no request made
    # The first poll that reaches a server, any feed's, ends it.
    assert watch.observe(url("healthy"), "not_modified", None, T + 9) == T
    assert watch.observe(url("e"), "new", None, T + 10) is None  # over: reset


def test_what_is_not_an_outage_of_ours() -> None:
    watch = OutageWatch(min_hosts=3)
    watch.observe(url("a"), "error", "connection", T)
    watch.observe(url("b"), "error", "timeout", T + 1)
    assert watch.observe(url("c"), "new", None, T + 2) is None  # two hosts: theirs
    watch.observe(url("a"), "error", "connection", T + 3)
    watch.observe(url("b"), "error", "connection", T + 4)
    # A server answered (with an error): the network was up.
    assert watch.observe(url("c"), "error", "http", T + 5) is None
    watch.observe(url("d"), "error", "connection", T + 6)
    assert watch.observe(url("e"), "new", None, T + 7) is None  # d alone since


def test_an_outage_a_restart_interrupted_is_picked_up() -> None:
    states = [state("a", "a.example", last_poll=T + 5, last_success=T - 900),
              state("b", "b.example", last_poll=T + 3), state("c", "c.example", last_poll=T + 9),
              state("ok", "d.example", failures=0, last_success=T)]
    watch = OutageWatch(min_hosts=3)
    watch.seed(states)
    assert watch.observe(url("x"), "new", None, T + 60) == T + 3
    later = [*states, state("fresh", "e.example", failures=0, last_success=T + 6)]
    watch.seed(later)  # a feed succeeded after two of the failures: no outage in progress
    assert watch.observe(url("x"), "new", None, T + 60) is None


def test_victims_are_the_feeds_that_could_not_connect_since() -> None:
    states = [state("b", "b.example", last_poll=T + 1), state("c", "c.example", last_poll=T),
              state("old", "c.example", last_poll=T - 1),
              state("http", "d.example", category="http"),
              state("gone", "e.example", disabled="410 Gone"),
              state("ok", "f.example", failures=0)]
    assert victims(states, T) == ["b", "c"]


class Gate:
    """A TCP port that forwards to `target` when up and refuses when down:
    the network between the daemon and one publisher."""

    def __init__(self, target: int) -> None:
        self.target = target
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self._server: asyncio.Server | None = None

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            finally:
                dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer),
                             return_exceptions=True)


async def test_feeds_that_could_not_connect_are_polled_when_the_network_is_back(
        tmp_path: Path) -> None:
    with loopback() as hook:
        async with LoopbackServer() as origin:
            port = int(origin.base_url.rsplit(":", 1)[1])
            gates = {name: Gate(port) for name in "abcd"}
            for name in gates:
                origin.route(f"/{name}", body=rss([(f"{name}1", f"Item {name}")]))
            feeds = "\n".join(
                f'[[feeds]]\nname = "{name}"\nurl = "http://127.0.0.1:{gate.port}/{name}"\n'
                f'interval = "{"1s" if name == "d" else "1h"}"\n'
                for name, gate in gates.items())
            config = tmp_path / "monitor.toml"
            config.write_text(f"""
[monitor]
database = "{tmp_path / 'db.sqlite3'}"
default_channels = ["hook"]
jitter = 0.0
connect_timeout = "2s"

[channels.hook]
url = "json://127.0.0.1:{hook.port}/hook"

{feeds}

[[rules]]
name = "never"
any = ["zzzyyyxxx"]
""", encoding="utf-8")
            # The network is down: every feed fails to connect; a, b and c
            # back off for an hour, d (every second) for a few seconds. The
            # daemon then starts during the outage (it reads it from the
            # store) and sees d fail again before the network returns.
            assert await asyncio.to_thread(main, ["run", "--once", "--config", str(config)]) == 0
            assert origin.count() == 0
            daemon = Daemon(config, build_runtime(config))
            task = asyncio.create_task(daemon.run())
            try:
                await asyncio.sleep(1.5)
                for gate in gates.values():
                    await gate.up()  # the network is back
                await until(lambda: origin.count("/d") >= 1, timeout=20)
                await until(lambda: all(origin.count(f"/{n}") == 1 for n in "abc"), timeout=10)
            finally:
                daemon.stop()
                await asyncio.wait_for(task, 15)
                for gate in gates.values():
                    await gate.down()
