"""Delivery: outbox → channels.

- outbox.py: `deliver_due`, the one place that wires store, flood control,
  render and notifier for the alerts that are due; each channel is its own
  compartment; retries back off (monitor.retry) until `retry_for`;
- flood.py: which pending alerts of a channel to send now, and how (rate
  limit, quiet hours, digests, catch-up). Pure;
- notifier/: the only apprise: one attempt per URL, secrets kept out of logs.

May import: the base (models, errors, text, retry), config, render, store.
"""
