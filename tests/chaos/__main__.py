"""``python -m tests.chaos --minutes N [--people P] [--factor F] [--pg-restart] [--json PATH]``."""

from __future__ import annotations

import sys

from tests.chaos.run import main

if __name__ == "__main__":
    sys.exit(main())
