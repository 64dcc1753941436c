"""Polling: one feed's poll as one compartment.

    schedule → fetch → parse → dedup → match → health → outbox (one transaction)

- pipeline.py: `poll_feed`, the compartment boundary: it wires the steps
  below and writes all that a poll changes through one `Store.record_items`;
  `push_feed`, the same for a body a WebSub hub pushed (no request);
- fetcher.py: one conditional GET (with hubclient.py, the only HTTP clients:
  aiohttp);
- websub.py: WebSub's pure rules (hub discovery, signatures, the next step
  of a subscription); hubclient.py: subscription requests to a hub;
- local.py: `file:` and `builtin:` feeds;
- parser/: bytes + headers → items (the only feedparser), in a process pool;
- states.py, schedule.py: a feed's state and next poll after a success or a
  failure (pure arithmetic over `now`);
- alerts.py: matches fanned out to their rules' channels;
- health.py: feed-health notices (failing, silent, recovered, disabled);
- outage.py: telling our own network outage from the publishers' failures.

May import: the base (models, errors, text, retry), config, matcher, store.
"""
