"""The repeat stage of a search: each model's best configuration trained again with new seeds.

One seed of the best of many trials is an optimistic and noisy score: it won the search partly
by luck. After a model's search, its best trial (by validation AUC) is retrained with ``--seeds``
new seeds (``--seed`` + 1, 2, ...: never the search's own seed), each trial keeping its test
predictions. The leaderboard reports their mean ± std and compares models seed by seed and over
the test rows (`harness.leaderboard.significance`); the search's single-seed score stays in its
own column.

**Budget.** The repeats run after every model's search, the reference GBDT's first (the
comparisons are against it), then by validation AUC. Their time is sized from what they measured:
a model's repeats need its best trial's wall time per wave of concurrent seeds (`RepeatCost`).
Each search leaves time for the repeats: what the models searched so far measured, and their
mean again per model still to search, at most `REPEAT_SHARE` of the run's budget
(`search_window`). In the repeat stage each model gets its need when the time left allows, else
the seeds that fit (`repeat_window`): a slow reference GBDT completes its seeds before faster
models use the time, and on a short budget the best models' seeds run first.

A repeat is a constant configuration (the trial's resolved config) run by `tune_arms` like a
study's arm: no pruning, each trial to its own early stopping, rows tagged ``repeat_of`` (the
search trial, ``"<study>#<trial number>"``) and never counted or ranked as search trials. A seed
already recorded for that trial is not run again; when a resumed search finds a better trial,
that trial's seeds run and the older repeats stay in the table, not shown.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.results.table import TrialResult, best_trial, is_search_trial
from harness.tuning.space import SearchSpace, space_from_mapping

__all__ = [
    "REPEAT_SHARE",
    "TEST_LABELS",
    "RepeatCost",
    "RepeatPlan",
    "plan_repeat",
    "repeat_key",
    "repeat_order",
    "repeat_seeds",
    "repeat_window",
    "search_window",
]

# The most of a run's budget that the searches leave for the repeats when ``--seeds`` asks for
# any (less when the repeats measure less: `search_window`).
REPEAT_SHARE = 1 / 3
# A repeat's time is its search trial's times this (a trial's wall time varies with what runs
# beside it), plus the start of a model's repeat stage (Ray actors, data load; ~4 s measured).
COST_MARGIN = 1.25
START_S = 10.0

# The test labels (first task, row order) beside the repeats' predictions in the run folder.
TEST_LABELS = "test_labels.npy"


@dataclass(frozen=True)
class RepeatPlan:
    """The repeats one model still needs.

    Attributes:
        model: the model (search-space file).
        best: its best search trial.
        key: ``repeat_key(best)``, the rows' ``repeat_of``.
        space: the best trial's resolved config as a constant search space named after the model.
        seeds: every seed asked for.
        pending: those not yet recorded (an interrupted repeat runs again).
    """

    model: str
    best: TrialResult
    key: str
    space: SearchSpace
    seeds: tuple[int, ...]
    pending: tuple[int, ...]


def repeat_seeds(seed: int, n: int) -> tuple[int, ...]:
    """The repeat stage's seeds: ``seed + 1`` .. ``seed + n`` (the search trains with ``seed``)."""
    if n < 0:
        raise ValueError(f"seeds must be 0 or more, got {n}")
    return tuple(seed + 1 + i for i in range(n))


def repeat_key(row: TrialResult) -> str:
    """What the repeats of a search trial carry in ``repeat_of``: ``"<study>#<trial number>"``."""
    number = row.study_trial if row.study_trial is not None else row.trial_id
    return f"{row.study}#{number}"


def plan_repeat(
    rows: Sequence[TrialResult],
    *,
    dataset: str,
    model: str,
    fingerprint: str,
    seeds: tuple[int, ...],
    results: str = "the results table",
) -> RepeatPlan | None:
    """The repeats of ``model``'s best search trial on ``dataset`` with the current space
    (``fingerprint``); None when it has no scored trial yet or no seed is asked.

    Raises:
        HarnessError: the best trial's config no longer builds (naming the table and trial).
    """
    if not seeds:
        return None
    mine = [
        r
        for r in rows
        if r.dataset == dataset
        and r.model == model
        and r.space_fingerprint == fingerprint
        and is_search_trial(r)
    ]
    best = best_trial(mine)
    if best is None:
        return None
    key = repeat_key(best)
    done = {
        r.seed
        for r in rows
        if r.dataset == dataset and r.repeat_of == key and r.status != "interrupted"
    }
    where = f"{results}: trial {best.trial_id} ({model})"
    tree: dict[str, Any] = {"family": best.family, **best.config_dict}
    space = space_from_mapping(tree, name=model, where=where, family=best.family)
    try:
        space.build_config({})
    except ValueError as e:
        raise HarnessError(f"{where}: its config does not build: {e}") from None
    pending = tuple(s for s in seeds if s not in done)
    return RepeatPlan(model, best, key, space, seeds, pending)


@dataclass(frozen=True)
class RepeatCost:
    """What a model's repeats take: its best trial's wall time per wave of seeds run at once.

    Attributes:
        seed_s: the best search trial's wall time (seconds).
        concurrency: trials of this model that run at once (`plan_resources`).
    """

    seed_s: float
    concurrency: int

    def __post_init__(self) -> None:
        if self.seed_s < 0 or self.concurrency < 1:
            raise ValueError(f"bad repeat cost: {self.seed_s=}, {self.concurrency=}")

    def seconds(self, n: int) -> float:
        """Seconds ``n`` seeds take (0 for none)."""
        if n <= 0:
            return 0.0
        return START_S + math.ceil(n / self.concurrency) * self.seed_s * COST_MARGIN

    def seeds_within(self, window: float) -> int:
        """How many seeds complete within ``window`` seconds (whole waves)."""
        wave = max(self.seed_s * COST_MARGIN, 1e-9)
        return max(0, math.floor((window - START_S) / wave)) * self.concurrency

    @classmethod
    def of(cls, best: TrialResult, concurrency: int) -> RepeatCost:
        """From the best trial's row (its wall time, else its training time)."""
        return cls(max(best.wall_seconds, best.train_seconds or 0.0), max(1, concurrency))


def repeat_order(plans: Sequence[RepeatPlan], gbdts: Collection[str]) -> list[RepeatPlan]:
    """The order the repeats run in: the reference GBDT's (the GBDT model in ``gbdts`` with the
    best validation AUC, which every lift is measured against) first, then by validation AUC."""

    def auc(p: RepeatPlan) -> float:
        return p.best.valid_auc if p.best.valid_auc is not None else -math.inf

    ranked = sorted(plans, key=auc, reverse=True)
    reference = next((p for p in ranked if p.model in gbdts), None)
    return ranked if reference is None else [reference, *(p for p in ranked if p is not reference)]


def repeat_window(
    cost: RepeatCost, pending: int, left: float, reserved_after: float
) -> tuple[int, float]:
    """How many of ``pending`` seeds to run and in what window, with ``left`` seconds left and
    ``reserved_after`` of them needed by the models whose repeats come later.

    The model gets its need when the time left allows (more when it is not needed later), else
    the seeds that fit in all the time left: earlier models come first.
    """
    need = cost.seconds(pending)
    window = left - reserved_after if left - reserved_after >= need else min(left, need)
    return min(pending, cost.seeds_within(window)), window


def search_window(
    left: float, to_search: int, needs: Sequence[float], *, pool: float | None
) -> float:
    """The next model's search window: an even share, among the ``to_search`` models still to
    search, of the ``left`` seconds less the time expected for the repeats.

    ``needs`` are the measured repeat needs of the models searched so far (`RepeatCost.seconds`);
    each model still to search is expected to need their mean (before any is measured, the whole
    ``pool``). The reserve is at most ``pool`` (`REPEAT_SHARE` of the run's budget; None: no
    repeats asked): the searches get at least the rest, and when the repeats need more, the
    repeat stage's order decides which run.
    """
    if to_search < 1:
        raise ValueError(f"no model left to search ({to_search=})")
    if pool is None:
        return left / to_search
    expected = sum(needs) + to_search * statistics.fmean(needs) if needs else pool
    return (left - max(0.0, min(expected, pool, left))) / to_search
