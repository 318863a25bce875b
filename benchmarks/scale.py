"""Preprocessing at 2M, 10M and 45M synthetic Criteo rows: is rows/s and peak memory flat?

The 45M file (the Kaggle train.txt's size, about 10.5 GB of text) takes several minutes to
generate and needs about 25 GB of free disk for the file, the build's intermediate blocks and
the cache: run it on purpose, not as part of every ``make bench``:

    .venv/bin/python -m benchmarks.scale [--rows 2000000 10000000]

Writes ``benchmarks/results/scale.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks import preprocess

SIZES = ("2000000", "10000000", "45000000")
RESULTS = Path(__file__).parent / "results" / "scale.md"


def main(argv: list[str]) -> int:
    sizes = argv[argv.index("--rows") + 1 :] if "--rows" in argv else list(SIZES)
    return preprocess.main(
        [
            "--rows",
            *sizes,
            "--results",
            str(RESULTS),
            "--title",
            "Preprocessing at scale (issue #3): rows/s and peak RSS from 2M to 45M rows",
        ]
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
