"""`file:` and `builtin:` feeds: read from disk, within max_body, as a FetchResult."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from monitor.errors import FetchError
from monitor.poll.fetcher import FetchResult


def read_local(url: str, limit: int) -> FetchResult:
    """The bytes of a local feed (blocking: the caller runs it in a thread)."""
    if url.startswith("builtin:"):
        data = resources.files("monitor.data").joinpath(url[len("builtin:"):]).read_bytes()
    else:
        try:
            with Path(url[len("file:"):]).open("rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise FetchError(f"cannot read {url}: {exc.strerror}", url=url) from exc
    if len(data) > limit:
        raise FetchError(f"file larger than max_body ({limit} bytes)", url=url)
    return FetchResult(status=200, body=data, headers={}, etag=None, last_modified=None,
                       not_modified=False, permanent_url=None, final_url=url, elapsed=0.0)
