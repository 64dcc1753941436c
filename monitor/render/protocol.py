"""The one shape every format has: a `Renderer` turns alerts into a body in
its markup. Registered by name in `registry`; `monitor.render` picks one per
message and does what is common (grouping a digest, the subject, templates).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import Protocol

from monitor.models import Alert
from monitor.render.facts import Limits, Segments


class Renderer(Protocol):
    """One body format (apprise's `body_format` name in `name`).

    Every method escapes the stranger text it places: a feed's title, summary,
    link and name must come out inert in this markup.
    """

    @property
    def name(self) -> str: ...

    @property
    def title_in_body(self) -> bool:
        """Whether bodies start with the title, so that the channel must not
        send it again (see notifier._title)."""

    @property
    def limits(self) -> Limits:
        """Caps on stranger text and on the body, for this format's targets."""

    def escape(self, text: str) -> str:
        """`text` as literal text in this markup."""

    def highlight(self, segments: Segments) -> str:
        """An excerpt with its matched words emphasised."""

    def link(self, text: str, url: str) -> str:
        """`text` linked to `url` if that is http(s), else just `text`."""

    def alert(self, alerts: Sequence[Alert], tz: tzinfo | None) -> str:
        """The body of a message for one item: its alerts, one per rule that
        matched it (the first alert's item is shown)."""

    def entry(self, alert: Alert, tz: tzinfo | None) -> str:
        """One alert as a digest entry."""

    def group(self, rule: str, count: int, entries: Sequence[str]) -> str:
        """One rule's entries under its heading (`count` alerts in all)."""

    def more(self, hidden: int) -> str:
        """The line that ends a digest showing all but `hidden` alerts."""

    def closing(self, alerts: Sequence[Alert]) -> str:
        """What ends a digest of `alerts` after its groups ("" for nothing):
        the email's footer naming the rules and how to mute one."""

    def digest(self, title: str, groups: Sequence[str]) -> str:
        """A digest's body from its groups (and `more`)."""

    def test(self, title: str, text: str) -> str:
        """The body of the test message (`text` is plain)."""
