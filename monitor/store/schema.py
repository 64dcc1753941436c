"""The tables, and how a database comes to hold them.

Times are stored as UTC epoch seconds (floats): comparable and identical on
SQLite and PostgreSQL (`ts`, `dt` convert). `create_or_upgrade` creates the
tables and adds the columns a newer version introduced; `engine_url` turns a
configured `database` into an async SQLAlchemy URL; `sqlite_pragmas` sets
each SQLite connection up. The other modules of the store read and write
these tables; nothing outside the store sees them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateIndex, CreateTable

from monitor.errors import StoreError

metadata = sa.MetaData()
WAL_LIMIT = 1024 * 1024  # bytes the SQLite write-ahead log keeps after a checkpoint
T = TypeVar("T")

feeds_t = sa.Table(
    "feeds", metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("url", sa.String, nullable=False),           # as configured
    sa.Column("current_url", sa.String, nullable=False),   # after 301/308
    sa.Column("title", sa.String, nullable=False, server_default=""),
    sa.Column("etag", sa.String),
    sa.Column("last_modified", sa.String),
    sa.Column("body_hash", sa.String),
    sa.Column("next_poll", sa.Float, nullable=False),
    sa.Column("last_poll", sa.Float),
    sa.Column("last_success", sa.Float),
    sa.Column("last_new_item", sa.Float),
    sa.Column("last_status", sa.Integer),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error_category", sa.String),
    sa.Column("error", sa.String),
    sa.Column("warning", sa.String),
    sa.Column("items_seen", sa.Integer, nullable=False, server_default="0"),
    sa.Column("interval", sa.Float, nullable=False),
    sa.Column("polled_once", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("disabled", sa.String),                      # reason, e.g. "410 Gone"
    sa.Column("health_alerted", sa.Float),                 # last feed-health alert
    # The instance polling the feed now (see instances_t): set by due_feeds,
    # cleared when the poll is saved; a dead instance's claims are released
    # by the others at once instead of when the lease (next_poll) runs out.
    sa.Column("claimed_by", sa.String),
    sa.Column("pace", sa.String),                          # why next_poll is when it is
    # The WebSub hub (and topic) the feed advertised at its last parse: ""
    # none, NULL not known yet (see FeedState).
    sa.Column("hub", sa.String),
    sa.Column("hub_topic", sa.String),
)

items_t = sa.Table(
    "items", metadata,
    sa.Column("feed", sa.String, primary_key=True),
    sa.Column("item_id", sa.String, primary_key=True),
    sa.Column("title", sa.String, nullable=False),
    sa.Column("link", sa.String, nullable=False),
    sa.Column("published", sa.Float),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False, index=True),
    # What the story index is rebuilt from at start (monitor.stories): the
    # item's text, and the story the poll attached it to (NULL: recorded
    # before stories; the rebuild fills it in, see stories.py).
    sa.Column("summary", sa.String),
    sa.Column("story_id", sa.String, index=True),
    # What `rules backtest` reads (store/archive.py): the author, the
    # categories as a JSON list, the content (zlib), and `overflow`, zlib
    # JSON of the title, summary and link in full where the columns above
    # cut them. NULL: none, or recorded before these columns.
    sa.Column("author", sa.String),
    sa.Column("categories", sa.String),
    sa.Column("content", sa.LargeBinary),
    sa.Column("overflow", sa.LargeBinary),
)

alerts_t = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("feed", sa.String, nullable=False),
    sa.Column("item_id", sa.String, nullable=False),
    sa.Column("rule", sa.String, nullable=False),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("priority", sa.String, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),         # the Alert as JSON
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("state", sa.String, nullable=False),         # pending | sent | dead
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt", sa.Float, nullable=False),
    sa.Column("last_error", sa.String),
    sa.Column("delivered", sa.Float),
    sa.Column("kind", sa.String),                          # single | digest | summary
    # Keys (hashes, see deliver.outbox.url_key) of the channel's URLs that
    # already accepted this alert, so that a retry goes only to the URLs that
    # failed; keyed by URL, not position, so that editing the channel cannot
    # skip one.
    sa.Column("done_urls", sa.String, nullable=False, server_default=""),
    # Set while one delivery tick (of one instance) works on the alert: others
    # skip it until then, so two instances never send it at once.
    sa.Column("claimed_until", sa.Float),
    # The instance holding that claim (see instances_t and feeds.claimed_by).
    sa.Column("claimed_by", sa.String),
    # When delivery first failed: retries go on for retry_for from then.
    sa.Column("first_failure", sa.Float),
    # Item.story_key: the item's story (monitor.stories), else the same
    # article's link+title hash. One alert per (story, rule, channel): a later
    # item of an alerted story is attached, not alerted (NULL: no such check).
    # A channel's story_updates follow-up has the key "<story>:follow-up".
    sa.Column("story", sa.String),
    sa.UniqueConstraint("feed", "item_id", "rule", "channel", name="alerts_once"),
    sa.Index("alerts_due", "state", "next_attempt"),
    sa.Index("alerts_story_once", "rule", "channel", "story", unique=True),
)

attempts_t = sa.Table(
    "attempts", metadata,
    sa.Column("alert_id", sa.Integer, nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", sa.String),
)

sends_t = sa.Table(
    "sends", metadata,
    sa.Column("channel", sa.String, nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
)


# One row per running daemon (several share a PostgreSQL database): its
# heartbeat, written every few seconds, says it is alive; one whose heartbeat
# is older than [monitor] instance_timeout is dead, and the first live one to
# notice releases its claims (store/instances.py).
instances_t = sa.Table(
    "instances", metadata,
    sa.Column("id", sa.String, primary_key=True),          # host:pid, or [monitor] instance
    sa.Column("host", sa.String, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("heartbeat", sa.Float, nullable=False),
)

# Work done once per period across all instances (retention, ...): the row
# holds the last period done; an instance does the job only when it moves
# the row to the current period itself (store/instances.py claim_job).
jobs_t = sa.Table(
    "jobs", metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("period", sa.String, nullable=False),
    sa.Column("done_by", sa.String, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)


# One row per WebSub subscription (monitor.models.Subscription): a feed that
# advertises a hub is subscribed with a callback path and a secret of its
# own; the web endpoint answers the hub's verification and takes the pushes
# of the active ones only (service/websub.py).
websub_t = sa.Table(
    "websub", metadata,
    sa.Column("feed", sa.String, primary_key=True),
    sa.Column("hub", sa.String, nullable=False),
    sa.Column("topic", sa.String, nullable=False),
    sa.Column("callback", sa.String, nullable=False, unique=True),
    sa.Column("secret", sa.String, nullable=False),
    sa.Column("state", sa.String, nullable=False),         # requested | active | ...
    sa.Column("requested", sa.Float, nullable=False),
    sa.Column("lease_until", sa.Float),
    sa.Column("error", sa.String),
    # The mode of the request the hub has yet to verify; NULL once verified
    # (a verification replayed finds none: refused).
    sa.Column("pending", sa.String),
)


def ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def chunks(values: Sequence[T], size: int = 500) -> Iterable[Sequence[T]]:
    """`values` in slices of `size`: an IN list of thousands of bound
    parameters would pass SQLite's limit on parameters per statement."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def engine_url(url: str) -> str:
    """A config `database` value → an async SQLAlchemy URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" in url:
        return url
    return f"sqlite+aiosqlite:///{url}"


def readonly_engine(url: str) -> AsyncEngine:
    """An engine that only reads an existing database: a SQLite file opened
    read-only (mode=ro: SQLite refuses every write, WAL set-up included; a
    missing file is not created), each PostgreSQL transaction READ ONLY."""
    if "://" not in url and not Path(url).is_file():
        raise StoreError(f"no database at {url} (the daemon creates it at its start)")
    if "://" not in url:
        url = f"sqlite+aiosqlite:///file:{quote(str(Path(url).resolve()))}?mode=ro&uri=true"
    try:
        engine = create_async_engine(engine_url(url))
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"cannot use this database URL: {type(exc).__name__}") from exc
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", sqlite_readonly)
    else:
        sa.event.listen(engine.sync_engine, "begin", postgresql_readonly)
    return engine


def sqlite_readonly(dbapi_conn: Any, _record: Any) -> None:
    """Set up a read-only SQLite connection (`Store.open_readonly`)."""
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA query_only=1")
    cursor.close()


def postgresql_readonly(conn: sa.Connection) -> None:
    """Each transaction of a read-only store (a "begin" listener): READ
    ONLY, so that PostgreSQL refuses any write in it."""
    conn.exec_driver_sql("SET TRANSACTION READ ONLY")


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Set up each new SQLite connection (a "connect" event listener)."""
    # WAL lets `status` read while the daemon writes; the busy timeout makes a
    # second process wait for the lock instead of failing at once.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a crash of
    # the process loses nothing; a power cut may undo the last transactions,
    # each whole: a poll's items go with its alerts (polled and alerted again)
    # and a sent mark with its send (sent again, as after any crash mid-send).
    cursor.execute("PRAGMA synchronous=NORMAL")
    # The write-ahead log grows until a checkpoint (SQLite's default: at 1,000
    # pages, 4 MiB), and keeps its size after. On a disk nearly full, a few MB
    # freed were all taken by the log again, and the checkpoint then had no
    # room to grow the database into (issue 14): checkpoint at 1 MiB, and cut
    # the log back to 1 MiB after.
    cursor.execute("PRAGMA wal_autocheckpoint=256")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
    cursor.close()


def create_or_upgrade(conn: sa.Connection) -> None:
    """Create missing tables, and add the columns a newer version introduced.

    Schema changes so far are additive; every added column is nullable or has
    a server default, so `ALTER TABLE ... ADD COLUMN` upgrades a database in
    place on both SQLite and PostgreSQL, and an older database keeps working.
    """
    if conn.dialect.name == "postgresql":
        # Instances starting together would race to create the same tables;
        # the first takes this lock for the transaction, the others then find
        # everything in place.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7388245910)"))
    # IF NOT EXISTS, and a column another process added meanwhile is no
    # error: two processes opening one SQLite file at once (the daemon
    # starting while `status` runs) must not fail on each other's DDL.
    # Only what is missing: even CREATE INDEX IF NOT EXISTS takes a SHARE
    # lock on its table first, and an instance starting while others write
    # would deadlock with them (locks on feeds, then alerts, against a poll
    # writing feeds and alerts), and fail to start.
    inspector = sa.inspect(conn)
    tables = set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in tables:
            conn.execute(CreateTable(table, if_not_exists=True))
    inspector = sa.inspect(conn)
    for table in metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                _add_column(conn, table, column)
        # An index on an added column: every row NULL there, nothing clashes.
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                conn.execute(CreateIndex(index, if_not_exists=True))


def _add_column(conn: sa.Connection, table: sa.Table, column: sa.Column[Any]) -> None:
    kind = column.type.compile(dialect=conn.dialect)
    default = (f" DEFAULT {column.server_default.arg!r}"  # type: ignore[attr-defined]
               if column.server_default is not None else "")
    try:
        conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN '
                             f'"{column.name}" {kind}{default}'))
    except sa.exc.OperationalError as exc:
        if "duplicate column" not in str(exc):
            raise
