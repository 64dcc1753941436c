"""newsmonitor: a news-alert daemon.

Data flows one way: config → schedule → fetch → parse → dedup → match →
outbox → deliver. The packages name that flow (the README's "How it works"
draws the map; tests/test_architecture.py keeps it):

    models, errors, text, retry   the base: domain types, the exception tree,
                                  HTML → text, backoff; import nothing of ours
    config/                       TOML → validated, frozen runtime objects
    matcher/, render/             pure: rules → matches; alerts → messages
    store/                        all persistence, the only SQL
    poll/                         one feed's poll as one compartment
    deliver/                      outbox → channels
    service/                      the process shell: composition root, ticks
    cli/                          argv and subcommands; the only printing
"""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/newsmonitor/newsmonitor"
USER_AGENT = f"newsmonitor/{__version__} (+{PROJECT_URL})"
