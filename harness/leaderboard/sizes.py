"""A study's arms scored with their ID embeddings cut to each Matryoshka size.

A trial trained with ``[train.matryoshka] sizes`` (or scored at them: weights 0 train a plain
model and still score it cut) records, per size, its validation and test scores with the
categorical embeddings cut to their first ``k`` dims and the ID tables' bytes at that width
(`TrialResult.matryoshka`). `size_rows` gathers them per arm and size over the seeds that
completed: what serving a truncated table costs in quality, trained for it or not.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from harness.leaderboard.stats import MeanStd, mean_std
from harness.results.table import TrialResult

__all__ = ["SizeRow", "size_rows"]


@dataclass(frozen=True)
class SizeRow:
    """One arm at one embedding size.

    Attributes:
        arm: the study's arm.
        size: the embedding width kept (the full width for the whole tables).
        full: whether ``size`` is the whole width.
        test_auc: mean ± std over seeds.
        table_bytes: the ID tables' bytes at this width (median over seeds).
        seeds: how many seeds completed.
    """

    arm: str
    size: int
    full: bool
    test_auc: MeanStd | None
    table_bytes: int | None
    seeds: int


def size_rows(rows: Sequence[TrialResult], arms: Sequence[str]) -> tuple[SizeRow, ...]:
    """Per arm (in ``arms`` order) and size (ascending), the cut scores; () when no complete
    trial recorded any."""
    out: list[SizeRow] = []
    for arm in arms:
        scored = [
            json.loads(r.matryoshka)
            for r in rows
            if r.arm == arm and r.status == "complete" and r.matryoshka
        ]
        if not scored:
            continue
        sizes = sorted({int(k) for s in scored for k in s})
        whole = max(sizes)
        for k in sizes:
            at = [s[str(k)] for s in scored if str(k) in s]
            aucs = [float(a["test_auc"]) for a in at if a.get("test_auc") is not None]
            sized = [int(a["table_bytes"]) for a in at if a.get("table_bytes") is not None]
            out.append(
                SizeRow(
                    arm=arm,
                    size=k,
                    full=k == whole,
                    test_auc=mean_std(aucs),
                    table_bytes=statistics.median_low(sized) if sized else None,
                    seeds=len(at),
                )
            )
    return tuple(out)
