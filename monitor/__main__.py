"""`python -m monitor` is `newsmonitor`."""

import sys

from monitor.cli import main

sys.exit(main())
