"""What one poll changes, in ONE transaction (Store.record_items).

An item is never marked seen without its alerts in the outbox, so a crash
between matching and delivery loses nothing (the next run delivers); and a
story's follow-ups and an edited item's new text go with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import Alert, FeedState, Item
from monitor.store import feedstate, outbox, polls, seen, stories


async def record_poll(conn: AsyncConnection, state: FeedState, items: Sequence[Item],
               alerts: Sequence[Alert], now: float, *, due_now: Sequence[str],
               poll: polls.Poll | None, touched: Sequence[str],
               follow_up: Mapping[str, int],
               edited: Sequence[Item], pushed: bool = False) -> tuple[list[int], FeedState]:
    """See Store.record_items."""
    fresh = await seen.record(conn, state.name, items, now)
    known = [i.id for i in items if i.id not in fresh]
    await seen.touch(conn, state.name, [*known, *touched], now)
    await seen.revise(conn, state.name, edited)
    new_state = replace(state, items_seen=state.items_seen + len(fresh),
                        last_new_item=now if fresh else state.last_new_item)
    if pushed:  # a poll of this feed may be under way: its row is the poll's
        await feedstate.count_pushed(conn, new_state, len(fresh), now)
    else:
        await feedstate.save_feed(conn, new_state)
    listed = {i.id for i in items}
    # An edited item's alerts ("updated") are kept: the outbox's keys let
    # through only the rules it did not match before, in item or story.
    kept = [a for a in alerts if a.item.id in fresh or a.item.id not in listed
            or a.note == "updated"]
    queued = await outbox.queue(conn, kept, now)
    queued += await stories.follow(conn, items, fresh, follow_up, now)
    await feedstate.poll_now(conn, due_now, now)
    if poll is not None:
        await polls.record(conn, state.name, poll)
    return queued, new_state
