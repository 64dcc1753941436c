"""The read-only web page of the daemon (`[monitor] http`): feeds by health,
alerts per day, the outbox, one feed, one rule, one alert, a title search;
and /healthz and /metrics on the same endpoint.

server.py runs it in its own thread and event loop; app.py holds the rules
of every response (GET/HEAD only, token, Content-Security-Policy); pages.py
reads through store/views.py and renders templates/; charts.py is the pure
arithmetic of the charts, drawn as server-side SVG (no script anywhere);
websub.py is the WebSub callback, the one route hubs POST to (the daemon
decides, on its own loop: service/websub.py).
"""

from monitor.web.pages import Snapshot
from monitor.web.server import WebServer
from monitor.web.websub import Callbacks

__all__ = ["Callbacks", "Snapshot", "WebServer"]
