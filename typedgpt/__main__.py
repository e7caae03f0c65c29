"""`python -m typedgpt`: the `typedgpt` command."""

import sys

from .cli import main

sys.exit(main())
