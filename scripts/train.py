"""Train a GPT from the command line without installing: ``python scripts/train.py --preset=tiny ...``.

A thin wrapper around :func:`attnbook.cli.main` (the ``attnbook-train`` command); ``--help`` lists the options.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from attnbook.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
