"""The exception tree of newsmonitor.

    NewsmonitorError
    ├── ConfigError          a config file, key or value is wrong (load time)
    │   └── RuleError        a watch rule does not compile (query syntax, ...)
    ├── FetchError           one HTTP poll failed; `category` names the kind
    │   ├── FetchTimeoutError     connect, read or total timeout ("timeout")
    │   ├── ConnectionFailedError DNS, refused, reset ("connection")
    │   │   └── TLSFailedError    certificate or handshake ("tls")
    │   ├── HTTPStatusError  the server answered with an error status
    │   ├── TooLargeError    the decoded body passed the size cap
    │   └── RedirectError    a redirect loop or too many redirects
    ├── ParseError           a document is not a usable feed
    ├── StoreError           the database failed
    ├── DeliveryError        a channel refused or could not take a message
    └── ListenError          the HTTP endpoint cannot listen (port taken, ...)

Third-party exceptions are translated once where they enter (`raise X(...)
from exc`), so that callers only ever catch these. Messages never carry
secrets: URLs are shown masked by whoever raises.
"""

from __future__ import annotations


class NewsmonitorError(Exception):
    """Base of every error newsmonitor raises on purpose."""


class ConfigError(NewsmonitorError):
    """One or more problems in the configuration, each naming where it is.

    `problems` lists one line per error (`file: key.path: message`); `str()`
    joins them, so `check` can print every error at once.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class RuleError(ConfigError):
    """A rule that does not compile: `where` names file and rule, `key` the
    rule key (`query`, `any`, ...) and `position` the 0-based offset in it."""

    def __init__(self, where: str, key: str, message: str, position: int | None = None) -> None:
        self.where, self.key, self.message, self.position = where, key, message, position
        at = f" at position {position}" if position is not None else ""
        super().__init__(f"{where}.{key}: {message}{at}")


class FetchError(NewsmonitorError):
    """A poll failed. `category` is a short stable word for `status`
    (timeout, connection, http, too_large, redirect, tls, ...)."""

    category = "fetch"

    def __init__(self, message: str, *, url: str = "") -> None:
        self.url = url
        super().__init__(message)


class FetchTimeoutError(FetchError):
    """Connect, read or total timeout (a server trickling bytes ends here)."""

    category = "timeout"


class ConnectionFailedError(FetchError):
    """No usable connection: DNS failure, refused, reset, closed mid-body."""

    category = "connection"


class TLSFailedError(ConnectionFailedError):
    """TLS handshake or certificate verification failed."""

    category = "tls"


class HTTPStatusError(FetchError):
    category = "http"

    def __init__(self, status: int, *, url: str = "", retry_after: float | None = None) -> None:
        self.status, self.retry_after = status, retry_after
        super().__init__(f"HTTP {status}", url=url)


class TooLargeError(FetchError):
    category = "too_large"


class RedirectError(FetchError):
    category = "redirect"


class ParseError(NewsmonitorError):
    """The body is not a feed we can use (no entries and no feed title)."""


class StoreError(NewsmonitorError):
    """The database failed; the operation was rolled back."""


class DeliveryError(NewsmonitorError):
    """A channel did not accept a message; the alert stays in the outbox."""


class ListenError(NewsmonitorError):
    """`[monitor] http` cannot be served: the address is taken or not ours."""
