"""Our own network goes down and comes back: the feeds that could not
connect meanwhile are polled at once, not after their backoff."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from monitor.cli import main
from monitor.daemon import Daemon, build_runtime
from monitor.feedhealth import outage_victims
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


def test_outage_victims() -> None:
    back = state("back", "a.example", last_poll=T - 60)
    others = [state("b", "b.example"), state("c", "c.example"), state("c2", "c.example"),
              state("http", "d.example", category="http"),
              state("gone", "e.example", disabled="410 Gone"),
              state("ok", "f.example", failures=0, last_success=T - 3600)]
    assert outage_victims(back, [back, *others]) == ["b", "c", "c2"]
    # One other host failing is the publisher's problem, not ours.
    assert outage_victims(back, [back, *others[2:]]) == []
    # Another feed succeeded after those failures: the network was up.
    fresh = state("fresh", "g.example", failures=0, last_success=T + 1)
    assert outage_victims(back, [back, *others, fresh]) == []
    # The feed that works again had failed for another reason.
    assert outage_victims(state("back", "a.example", category="http"), others) == []
    # The recovered feed's own host does not count as another one.
    same = [state("a2", "a.example"), state("b", "b.example")]
    assert outage_victims(back, same) == []


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
            # back off for an hour, d (every second) for a few seconds.
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
