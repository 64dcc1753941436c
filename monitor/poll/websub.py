"""WebSub (W3C Recommendation, 23 January 2018), the subscriber's pure side.

- `discover`: the hub and topic a feed advertises: its HTTP `Link` header
  first, then the document's `<link rel="hub">` / `rel="self"` (section 4:
  "the subscriber MUST check the Link header first"); the topic is the
  rel="self" URL of the same source, else the URL fetched; `remember` keeps
  it in the feed's state, `remembered` gives it back to a poll that parsed
  nothing (a 304, the same bytes: a feed added back after it left the
  config is subscribed again at its first poll);
- `check_signature`: a push's `X-Hub-Signature: <method>=<hex HMAC of the
  body>` (section 7, sha1, sha256, sha384 or sha512) against the
  subscription's secret, compared in constant time (hmac.compare_digest);
- `expected`: whether a verification of intent (section 5.3) is for a
  request we made and the hub has not verified yet, within VERIFY_WINDOW:
  the challenge is answered only then, once per request;
- `granted_lease`: the lease a verification grants, as we hold it: a
  positive integer, at most LEASE_MAX; anything else is refused;
- `next_step`: what a subscription needs now (subscribe, renew before its
  lease runs out, unsubscribe a feed that left the config, forget), from
  the subscription, whether its feed is still wanted and `now`: no clock
  here, so the renewal is tested without waiting.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urljoin, urlsplit

from monitor.models import FeedState, Subscription

# Section 7: the methods a hub may sign with.
_METHODS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
            "sha512": hashlib.sha512}
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)

LEASE_ASKED = 10 * 86400.0    # hub.lease_seconds we ask for; the hub decides
RETRY = 300.0                 # a request the hub did not verify is made again after
DENIED_RETRY = 86400.0        # a hub that said no is asked again after
VERIFY_WINDOW = 3600.0        # a hub verifies a request within this, or not at all
# The longest lease we hold (hub.lease_seconds beyond it is taken as this, and
# renewed against it): a verification forged or misread cannot keep a
# subscription unrenewed for years; a hub granting more is asked again early.
LEASE_MAX = 30 * 86400.0
RENEW_SHARE = 0.2             # renew when this share of the lease is left,
RENEW_MIN = 10.0              # but at least two websub ticks before it runs out
RENEW_MARGIN = 86400.0        # and at most a day before

Step = Literal["none", "subscribe", "renew", "unsubscribe", "forget"]
Verdict = Literal["ok", "unsigned", "unknown method", "wrong"]


@dataclass(frozen=True, slots=True)
class HubLink:
    """A feed's hub and the topic to subscribe to there."""

    hub: str
    topic: str


def discover(headers: Mapping[str, str], hub: str, self_url: str, url: str) -> HubLink | None:
    """The hub and topic advertised by a response: its `link` header (names
    lower-cased), else the document's hub and self links; None without a hub.
    Relative references are resolved against `url`, the URL fetched."""
    links = link_header(headers.get("link", ""))
    if "hub" in links:
        hub, self_url = links["hub"], links.get("self", "")
    if not hub:
        return None
    hub, topic = urljoin(url, hub), urljoin(url, self_url or url)
    if not all(urlsplit(u).scheme in ("http", "https") for u in (hub, topic)):
        return None
    return HubLink(hub, topic)


def remembered(state: FeedState) -> HubLink | None:
    """The hub `state` keeps from the feed's last parse (None: none, or not
    known yet): a 304 or the same bytes again advertise it still."""
    return HubLink(state.hub, state.hub_topic) if state.hub and state.hub_topic else None


def remember(state: FeedState, link: HubLink | None) -> FeedState:
    """`state` keeping `link`, what the feed's parsed response advertised."""
    return replace(state, hub=link.hub if link else "", hub_topic=link.topic if link else "")


def link_header(value: str) -> dict[str, str]:
    """RFC 8288 `Link` header → {relation: first URL with it}."""
    found: dict[str, str] = {}
    for match in _LINK.finditer(value):
        rel = _REL.search(match[2])
        for name in ((rel[1] or rel[2]).lower().split() if rel else []):
            found.setdefault(name, match[1].strip())
    return found


def new_secret() -> str:
    """A subscription's secret (section 5.1: fewer than 200 bytes)."""
    return secrets.token_hex(32)


def new_callback() -> str:
    """The random last segment of a subscription's callback path: a
    stranger cannot guess where to push (and is refused anyway, unsigned)."""
    return secrets.token_urlsafe(24)


def check_signature(secret: str, header: str | None, body: bytes) -> Verdict:
    """Whether `body` carries `secret`'s signature in `header`."""
    if not header:
        return "unsigned"
    method, _, given = header.strip().partition("=")
    digest = _METHODS.get(method.strip().lower())
    if digest is None:
        return "unknown method"
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return "ok" if hmac.compare_digest(expected, given.strip().lower()) else "wrong"


def expected(sub: Subscription, mode: str, topic: str, now: float) -> bool:
    """Whether the hub's verification (`mode`, `topic`) answers a request of
    ours still pending, made within VERIFY_WINDOW: a subscription requested
    or renewed, an unsubscription, or a denial of a subscription requested
    and never verified. The first verification takes the request (the store
    clears `pending`): the same one replayed, by the hub or by whoever saw
    it, is refused; so is a denial of a subscription the hub verified (it
    holds until its lease ends, and is renewed or asked for again then)."""
    if topic != sub.topic or sub.pending is None or now - sub.requested > VERIFY_WINDOW:
        return False
    if mode == "subscribe":
        return sub.pending == "subscribe" and sub.state in ("requested", "active")
    if mode == "unsubscribe":
        return sub.pending == "unsubscribe" and sub.state == "unsubscribing"
    return mode == "denied" and sub.pending == "subscribe" and sub.state == "requested"


def granted_lease(lease: str | None) -> float | None:
    """hub.lease_seconds of a subscribe verification (section 5.3: required)
    as the lease we hold: a positive integer in ASCII digits (`"²"` is a
    digit to str.isdigit, not to int), at most LEASE_MAX; None (refused)
    when absent, zero, signed, fractional, in exponent notation."""
    if lease is None or not (lease.isascii() and lease.isdigit()):
        return None
    digits = lease.lstrip("0")
    if not digits:
        return None
    # Past twelve digits it is past LEASE_MAX: not handed to int (no 4,300-digit parse).
    return LEASE_MAX if len(digits) > 12 else min(float(digits), LEASE_MAX)


def renew_at(sub: Subscription) -> float | None:
    """When an active subscription is renewed: with RENEW_SHARE of its
    lease left (RENEW_MIN at least, RENEW_MARGIN at most); None if unverified."""
    if sub.lease_until is None:
        return None
    lease = max(sub.lease_until - sub.requested, 0.0)
    return sub.lease_until - min(max(lease * RENEW_SHARE, RENEW_MIN), RENEW_MARGIN)


def next_step(sub: Subscription, now: float, wanted: bool) -> Step:
    """What `sub` needs at `now`; `wanted`: its feed is configured, enabled
    and WebSub is on."""
    since = now - sub.requested
    if not wanted:
        if sub.state == "denied":
            return "forget"
        if sub.state != "unsubscribing":
            return "unsubscribe"
        # The hub holds it until its lease ends, whether it confirms or not.
        if sub.lease_until is None or now >= sub.lease_until:
            return "forget" if since >= RETRY else "none"
        return "unsubscribe" if since >= RETRY else "none"
    if sub.state == "active":
        due = renew_at(sub)
        if sub.lease_until is not None and now >= sub.lease_until:
            return "subscribe"  # lapsed: the hub no longer pushes
        # No wait needed after asking: `requested` moved to then, so renew_at
        # moved to RENEW_SHARE of what is left (asked again, ever closer, until
        # the hub verifies or the lease ends).
        return "renew" if due is not None and now >= due else "none"
    if sub.state == "denied":
        return "subscribe" if since >= DENIED_RETRY else "none"
    if sub.state == "unsubscribing":
        return "subscribe"  # the feed came back
    return "subscribe" if since >= RETRY else "none"


def pushed(sub: Subscription, now: float) -> bool:
    """Whether the hub pushes `sub`'s feed now (verified, lease running)."""
    return sub.state == "active" and sub.lease_until is not None and now < sub.lease_until
