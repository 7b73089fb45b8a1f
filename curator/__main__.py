"""`python -m curator` (guarded: big imports start a worker process that re-imports this module)."""

import sys

from curator.cli import main

if __name__ == "__main__":
    sys.exit(main())
