"""`python -m chipwatch` runs the CLI."""

import sys

from chipwatch.cli import main

sys.exit(main())
