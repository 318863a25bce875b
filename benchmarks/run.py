"""Runs every benchmark, one process each, then writes BENCHMARKS.md from their sections.

    .venv/bin/python -m benchmarks.run                 # all
    .venv/bin/python -m benchmarks.run preprocess      # some

Each benchmark module writes its own markdown section to ``benchmarks/results/<name>.md``; this
script only runs them in turn (never two at once: they would share the two cores) and
concatenates the sections, so a section measured earlier stays until its benchmark runs again.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# "scale" (45M rows, ~25 GB of disk) runs only when named: `python -m benchmarks.run scale`.
DEFAULT = (
    "preprocess",
    "adapter",
    "train_rankers",
    "representations",
    "precision",
    "ray_overhead",
)
BENCHMARKS = (*DEFAULT, "scale")

HEADER = """# Benchmarks

Speed and scale figures of harness, measured on the development machine (2 CPU cores, 24 GiB,
no GPU) with the scripts in `benchmarks/` (`make bench`). Each section says how it was measured.
Figures on a shared machine vary from run to run: compare ratios measured side by side in one
run, as the sections do, rather than absolute figures across sections.
Targets come from the issues and `../shared/YARDSTICKS.md` (peer libraries on this machine).

"""


def assemble() -> Path:
    # headline.md: the figures against their targets, kept by hand from the sections' output.
    sections = [
        (HERE / "results" / f"{name}.md").read_text().strip()
        for name in ("headline", *BENCHMARKS)
        if (HERE / "results" / f"{name}.md").exists()
    ]
    stamp = f"_Assembled {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from benchmarks/results/._\n"
    target = ROOT / "BENCHMARKS.md"
    target.write_text("\n\n".join([HEADER.strip(), stamp, *sections]) + "\n")
    return target


def main(argv: list[str]) -> int:
    chosen = argv or list(DEFAULT)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; valid: {', '.join(BENCHMARKS)}")
        return 2
    for name in chosen:
        print(f"== {name}", flush=True)
        subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], cwd=ROOT, check=True)
    print(f"wrote {assemble()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
