"""newsmonitor: a news-alert daemon.

Data flows one way: config → scheduler → fetch → parse → dedup → match →
outbox → deliver; each step lives in its own module (see the README).
"""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/newsmonitor/newsmonitor"
USER_AGENT = f"newsmonitor/{__version__} (+{PROJECT_URL})"
