"""The repeat stage of a search: each model's best configuration trained again with new seeds.

One seed of the best of many trials is an optimistic and noisy score: it won the search partly
by luck. After a model's search, its best trial (by validation AUC) is retrained with ``--seeds``
new seeds (``--seed`` + 1, 2, ...: never the search's own seed), each trial keeping its test
predictions. The leaderboard reports their mean ± std and compares models seed by seed and over
the test rows (`harness.leaderboard.significance`); the search's single-seed score stays in its
own column.

A repeat is a constant configuration (the trial's resolved config) run by `tune_arms` like a
study's arm: no pruning, each trial to its own early stopping, rows tagged ``repeat_of`` (the
search trial, ``"<study>#<trial number>"``) and never counted or ranked as search trials. A seed
already recorded for that trial is not run again; when a resumed search finds a better trial,
that trial's seeds run and the older repeats stay in the table, not shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.results.table import TrialResult, best_trial, is_search_trial
from harness.tuning.space import SearchSpace, space_from_mapping

__all__ = ["REPEAT_SHARE", "TEST_LABELS", "RepeatPlan", "plan_repeat", "repeat_key", "repeat_seeds"]

# The part of a model's time share kept for its repeats when ``--seeds`` asks for any: the search
# launches trials in the rest (and what it leaves unused goes to the repeats).
REPEAT_SHARE = 1 / 3
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
