"""``python -m invgym``: the same command line as ``invgym`` (see :mod:`invgym.cli`)."""

from __future__ import annotations

import sys

from invgym.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
