"""TOML → validated, frozen settings.

Every option is declared once, in schema.py, with its default and help text
(the `Field(description=...)`); the README's option tables are generated from
it (docs.py). Loading validates everything and reports every problem at once,
each as `file: key.path: message`, e.g.
`config/monitor.toml: rules[2] (name="ampere").query: ...`. Nothing is skipped
silently. Secrets are written `${ENV_VAR}` and substituted here; error
messages never echo a channel URL or the database URL.

The result is `Settings`: frozen models (settings.py, the schema's models
resolved: paths absolute, defaults filled in) with the runtime policies built
from them (policies.py: each feed's `PollPolicy`, the `FetchLimits`, the
deliveries' `RetryPolicy`), passed
down to every other module; nothing reads the TOML again at the point of use.
Files are read by source.py (regular, capped, strict UTF-8), validated by
validate.py and turned into settings by loader.py.
"""

from monitor.config.loader import (
    CONFIG_SEARCH_ENV,
    find_config,
    load,
    load_rules_file,
    read_config,
    resolve_database,
    substitute_env,
)
from monitor.config.policies import FetchLimits, PollPolicy, RetryPolicy
from monitor.config.schema import (
    DEFAULT_USER_AGENT,
    ChannelModel,
    ConfigModel,
    FeedModel,
    MonitorModel,
    RuleModel,
)
from monitor.config.settings import ChannelSettings, FeedSettings, MonitorSettings, Settings
from monitor.config.values import parse_duration, parse_listen, parse_quiet_hours, parse_rate

__all__ = [
    "CONFIG_SEARCH_ENV", "DEFAULT_USER_AGENT", "ChannelModel", "ChannelSettings",
    "ConfigModel", "FeedModel", "FeedSettings", "FetchLimits", "MonitorModel",
    "MonitorSettings", "PollPolicy", "RetryPolicy", "RuleModel", "Settings", "find_config", "load",
    "load_rules_file", "parse_duration", "parse_listen", "parse_quiet_hours", "parse_rate",
    "read_config", "resolve_database", "substitute_env",
]
