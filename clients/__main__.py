"""`python -m clients`: the task API from the command line (see --help)."""

import sys

from .cli import main

sys.exit(main())
