"""The process shell: everything that makes the compartments a daemon.

- daemon.py: the composition root (store, HTTP session, parse pool, poll
  context, notifier) and its lifecycle: signals, reload, drain;
- ticks.py: the periodic work (dispatch polls, deliver, watch the config,
  gauges, retention, watchdog), each tick handing off to a compartment;
- runtime.py: what one config load builds, swapped whole on reload;
- websub.py: the WebSub subscriber: subscriptions kept, the web thread's
  verifications and pushes handled on the daemon's loop;
- http.py, metrics.py: /healthz and /metrics; systemd.py: sd_notify;
  logs.py: one line per event, text, journal or JSON.

May import every package but cli; the only APScheduler user.
"""
