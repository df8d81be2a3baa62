"""`python -m reactor` is the `reactor` command."""

import sys

from reactor.ops.cli import main

sys.exit(main())
