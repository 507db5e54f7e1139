"""``python -m nst``: the command line (see ``nst.cli``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
