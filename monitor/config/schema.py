"""The config schema: every option declared once, with its default and help.

The `description` of each field is the README's reference text: the tables
there are generated from this file (monitor/config/docs.py) and
tests/test_docs.py fails when they differ. Unknown keys are errors
(`extra="forbid"`). Arrays are tuples, so that models are immutable; the
runtime settings (settings.py) are these models as the loader resolved them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from monitor import USER_AGENT
from monitor.config.values import (
    Database,
    Duration,
    FeedURL,
    FilePath,
    Headers,
    Listen,
    Name,
    PublicURL,
    QuietHours,
    Rate,
    Retention,
    Size,
    TimeZone,
)
from monitor.models import Priority
from monitor.render.registry import Format

DEFAULT_USER_AGENT = USER_AGENT


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)




class MonitorModel(_Model):
    database: Database = Field(
        "", description="SQLite file path (relative to the config file) or a postgresql:// URL. "
        "Empty: $STATE_DIRECTORY/newsmonitor.sqlite3 under systemd, else "
        "~/.local/state/newsmonitor/newsmonitor.sqlite3.")
    interval: Duration = Field(timedelta(minutes=15), description="Default poll interval.")
    jitter: float = Field(0.1, ge=0, le=0.5, description="Random spread of each poll, as a "
                          "fraction of the interval.")
    concurrency: int = Field(50, ge=1, le=1000, description="Polls in flight at once.")
    per_host_concurrency: int = Field(4, ge=1, le=100,
                                      description="Requests in flight per host; a redirect "
                                      "counts against the host it leads to.")
    user_agent: str = Field(DEFAULT_USER_AGENT, description="User-Agent of every request.")
    timeout: Duration = Field(timedelta(seconds=60), description="Total time one poll may take.")
    connect_timeout: Duration = Field(timedelta(seconds=10), description="Time to connect.")
    max_body: Size = Field(10 * 1024**2, description="Largest decoded feed body accepted.")
    allow_private_networks: bool = Field(False, description="Follow a redirect from a feed's "
                                         "host, or a `fulltext` article link, to a loopback, "
                                         "private or link-local address of another host "
                                         "(refused by default: a stranger's server must not "
                                         "reach into your network).")
    max_backoff: Duration = Field(timedelta(hours=24), description="Longest wait between polls "
                                  "of a failing feed.")
    max_failures: int = Field(10, ge=1, description="Consecutive failures after which a feed is "
                              "polled at the slowest backoff and reported.")
    honor_cache_headers: bool = Field(True, description="Treat Cache-Control/Expires/<ttl> as a "
                                      "lower bound on a feed's interval.")
    adaptive: bool = Field(False, description="Pace each feed by its publishing history "
                           "(new items an hour, by hour of day and day of week, learned from "
                           "the store) between min_interval and max_interval, instead of the "
                           "fixed `interval` (then only its first pace); cache hints and "
                           "Retry-After stay lower bounds.")
    min_interval: Duration = Field(timedelta(minutes=2), description="Shortest interval of an "
                                   "adaptive feed, however much it publishes.")
    max_interval: Duration = Field(timedelta(hours=1), description="Longest interval of an "
                                   "adaptive feed, however quiet it is (a feed that publishes "
                                   "nothing is still polled this often).")
    max_requests_per_hour: int = Field(0, ge=0, description="Polls an hour, all feeds "
                                       "together, shared out among the adaptive feeds where "
                                       "new items are most likely (each still polled at least "
                                       "once per max_interval); 0: no budget.")
    default_channels: tuple[Name, ...] = Field((), description="Channels of rules "
                                         "that name none.")
    admin_channels: tuple[Name, ...] = Field((), description="Channels that receive "
                                       "feed-health and channel-health notices.")
    channel_failing_after: Duration = Field(timedelta(hours=1), description="How long "
                                            "every send of a channel must fail before one "
                                            "notice goes to the other admin_channels; then "
                                            "a daily reminder, and one when it recovers.")
    timezone: TimeZone = Field("UTC", description="Time zone for digests, quiet hours, display.")
    catch_up: Duration = Field(timedelta(hours=24), description="Items published longer than "
                               "this before they were seen go into one digest.")
    retry_for: Duration = Field(timedelta(hours=24), description="How long a failed delivery "
                                "is retried, from its first failure, before the alert is "
                                "marked dead.")
    retention: Retention = Field(timedelta(days=90), description="Age after which delivered "
                                 "alerts, and items gone from their feed, are pruned (at "
                                 "least 1d).")
    http: Listen = Field("", description="host:port of the web page, /healthz and /metrics; "
                         "empty: off; `${ENV_VAR}` is substituted (a port per instance).")
    http_token: str = Field("", description="Access token of the web page and /metrics "
                            "(`${ENV_VAR}` is substituted); required when `http` is not a "
                            "loopback address.")
    public_url: PublicURL = Field("", description="The address at which WebSub hubs reach "
                                  "this daemon's `http` endpoint (e.g. `https://news.example.org`,"
                                  " a reverse proxy's); with it, a feed that advertises a hub is "
                                  "subscribed, its new items pushed to `<public_url>/websub/…` "
                                  "within seconds, and it is polled only as a safety net. "
                                  "`${ENV_VAR}` is substituted. Empty: no WebSub. Needs `http`.")
    story_window: Duration = Field(timedelta(hours=48), gt=timedelta(0), description="How long "
                                   "a story takes new items and is kept after its latest one "
                                   "(items reporting one event, from any feed, alert once).")
    story_threshold: float = Field(0.22, gt=0, le=1, description="Least similarity (0..1) for "
                                   "an item to join a story; higher: fewer, tighter stories.")
    channels_file: FilePath = Field("", description="An apprise text config (`tag = url` lines) "
                               "holding channel URLs; must not be readable by group/others.")
    instance: str = Field("", max_length=200, description="This daemon's name among the "
                          "instances sharing a PostgreSQL database (`status` lists them); "
                          "`${ENV_VAR}` is substituted; empty: host:pid.")
    instance_timeout: Duration = Field(timedelta(seconds=30), description="An instance whose "
                                       "heartbeat (written every second) is older than this "
                                       "is dead: the others release its feeds and alerts at "
                                       "once (at least 3s).")
    fulltext: bool = Field(False, description="Fetch the linked article of each new item "
                           "and match on its main text too (as `content`); a feed's "
                           "`fulltext` overrides it.")
    fulltext_timeout: Duration = Field(timedelta(seconds=30), gt=timedelta(0),
                                       description="How long matching a new item waits for "
                                       "its article; then it is matched on what the feed "
                                       "gave, and the failure is counted in `status`.")
    fulltext_host_delay: Duration = Field(timedelta(seconds=1), description="Least time "
                                          "between two article requests to one host "
                                          "(robots.txt is honoured too).")
    lease: Duration = Field(timedelta(seconds=60), description="How long a claim on a feed "
                            "being polled or an alert being sent holds unless its instance "
                            "renews it (it does, every heartbeat, while the work runs); at "
                            "least `instance_timeout`.")

    @pydantic.model_validator(mode="after")
    def _timeouts(self) -> MonitorModel:
        if self.instance_timeout < timedelta(seconds=3):
            raise ValueError("instance_timeout must be at least 3s (the heartbeat is "
                             "written every second)")
        if self.lease < self.instance_timeout:
            raise ValueError("lease must be at least instance_timeout: a live instance's "
                             "claims would lapse between its renewals")
        return self


class ChannelModel(_Model):
    url: str = Field("", description="One apprise URL; `${ENV_VAR}` is substituted.")
    urls: tuple[str, ...] = Field((), description="Several apprise URLs.")
    # Format is render's registry of formats: a format added there is a choice here.
    format: Format | None = Field(
        None, description="Message format; default: html for email, markdown for chat.")
    min_priority: Priority = Field(Priority.LOW, description="Lowest rule priority sent here.")
    rate_limit: Rate = Field((20, timedelta(minutes=10)), description="At most N messages per "
                             "period; the overflow is folded into one summary.")
    quiet_hours: QuietHours | None = Field(None, description="Hold alerts during these hours "
                                           "and send one digest after (high priority passes).")
    digest: str | None = Field(None, description="Send one digest per period ('1h') or on a "
                               "cron schedule ('0 8 * * *') instead of single alerts.")
    timezone: TimeZone | None = Field(None, description="Time zone of quiet hours and cron "
                                      "digests; default: [monitor] timezone.")
    template: FilePath | None = Field(None, description="A Jinja2 template file for this channel.")
    story_updates: int = Field(0, ge=0, description="Send one short follow-up once this many "
                               "further sources have joined an alerted story (0: never).")
    connect_timeout: Duration = Field(timedelta(seconds=10), description="Time to connect to "
                                      "a receiver (apprise's `cto`, unless the URL sets it).")
    read_timeout: Duration = Field(timedelta(seconds=60), description="Time to wait for a "
                                   "receiver's answer (apprise's `rto`, unless the URL sets "
                                   "it); long, since a send that times out may have arrived.")
    send_timeout: Duration = Field(timedelta(seconds=90), description="Total time one send to "
                                   "one URL may take, however the receiver trickles; then it "
                                   "is cut off, and its retry waits as for an unknown outcome.")


class FeedModel(_Model):
    url: FeedURL = Field(description="http(s):// URL, file:PATH or builtin:NAME.")
    name: Name | None = Field(None, description="Name shown in alerts; default: the URL.")
    interval: Duration | None = Field(None, description="Poll interval; default [monitor].")
    adaptive: bool | None = Field(None, description="Pace this feed by its publishing "
                                  "history; default [monitor].")
    min_interval: Duration | None = Field(None, description="Shortest adaptive interval; "
                                          "default [monitor].")
    max_interval: Duration | None = Field(None, description="Longest adaptive interval; "
                                          "default [monitor].")
    tags: tuple[Name, ...] = Field((), description="Tags that rules can select.")
    alert_existing: bool = Field(False, description="Alert on the items present at the first "
                                 "poll, in one digest (default: record them silently).")
    enabled: bool = Field(True, description="Poll this feed.")
    expect_every: Duration | None = Field(None, description="Raise a health alert when the "
                                          "feed has no new item for this long.")
    fulltext: bool | None = Field(None, description="Fetch each new item's article and "
                                  "match on its text; default [monitor] fulltext.")
    # Request settings may hold secrets: left out of reprs, never shown.
    headers: Headers = Field((), repr=False, description="Request headers for this feed "
                             "(a User-Agent, a cookie), sent to its own host only; "
                             "`${ENV_VAR}` is substituted; values never shown.")
    username: str = Field("", repr=False, description="HTTP basic auth user, sent to "
                          "the feed's own host only; `${ENV_VAR}` is substituted.")
    password: str = Field("", repr=False, description="HTTP basic auth password; "
                          "`${ENV_VAR}` is substituted; never shown.")
    proxy: str = Field("", repr=False, description="An http:// proxy for this feed "
                       "(`http://user:pass@host:port`); `${ENV_VAR}` is substituted.")


class PersonModel(_Model):
    name: Name
    aliases: tuple[Name, ...] = Field(())


class RuleModel(_Model):
    name: Name = Field(description="Unique rule name.")
    description: str = Field("", description="Free text.")
    query: str | None = Field(None, description="Boolean query: terms, \"phrases\", wild*, "
                              "AND, OR, NOT, NEAR/n, parentheses.")
    any: tuple[str, ...] = Field((), description="At least one must occur.")
    all: tuple[str, ...] = Field((), description="Every one must occur.")
    not_: tuple[str, ...] = Field((), alias="not", description="None may occur.")
    people: tuple[PersonModel | str, ...] = Field((), description="Persons; one "
                                            "matching is enough.")
    fuzzy: int | None = Field(None, ge=0, le=100, description="Typo tolerance (rapidfuzz ratio) "
                              "for words of 6+ letters.")
    fields: tuple[Literal["title", "summary", "content", "author", "categories", "url"],
                  ...] = Field(
        ("title", "summary", "content"), min_length=1,
        description="Where the rule looks: title, summary, content (the feed's full text), "
                    "author, categories, url (the item's link).")
    feeds: tuple[Name, ...] = Field((), description="Only items of these feeds.")
    tags: tuple[Name, ...] = Field((), description="Only feeds with one of these "
                             "tags.")
    min_score: int = Field(0, ge=0, le=100, description="Drop matches scoring below this.")
    priority: Priority = Field(Priority.NORMAL, description="low, normal or high.")
    channels: tuple[Name, ...] = Field((), description="Where alerts go; default "
                                 "[monitor] default_channels.")

    @pydantic.model_validator(mode="after")
    def _has_positive_terms(self) -> RuleModel:
        if not (self.query or self.any or self.all or self.people):
            raise ValueError("a rule needs at least one of query, any, all or people")
        return self


class ConfigModel(_Model):
    include: tuple[FilePath, ...] = Field((), description="Glob patterns of more files "
                               "with [[rules]] and [[feeds]], relative to this file.")
    monitor: MonitorModel = Field(default_factory=MonitorModel)  # type: ignore[arg-type]
    channels: dict[Name, ChannelModel] = Field(default_factory=dict)
    feeds: tuple[FeedModel, ...] = Field(())
    rules: tuple[RuleModel, ...] = Field(())


class IncludedModel(_Model):
    feeds: tuple[FeedModel, ...] = Field(())
    rules: tuple[RuleModel, ...] = Field(())
