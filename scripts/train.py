"""Train a GPT from the command line: a thin wrapper around ``python -m attnbook.train``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from attnbook.train import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
