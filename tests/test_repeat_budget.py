"""How a run's budget is shared between the searches and the repeat seeds (`harness.repeats`):
the repeats' time sized from what the best trials measured, the reference GBDT's seeds first."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from harness.repeats import (
    COST_MARGIN,
    REPEAT_SHARE,
    START_S,
    RepeatCost,
    plan_repeat,
    repeat_order,
    repeat_seeds,
    repeat_window,
    search_window,
)
from harness.results.table import TrialResult


def _best(model: str, valid: float, wall: float, family: str = "lightgbm") -> TrialResult:
    return TrialResult(
        suite="criteo",
        dataset="criteo@abc",
        protocol="sequential",
        family=family,
        study=f"criteo/{model}@fp",
        trial_id=f"{model}-0",
        study_trial=0,
        params="{}",
        seed=0,
        status="complete",
        valid_auc=valid,
        test_auc=valid,
        wall_seconds=wall,
        model=model,
        space_fingerprint="fp",
        config='{"learning_rate": 0.05}',
    )


def test_a_cost_counts_waves_of_concurrent_seeds() -> None:
    cost = RepeatCost(seed_s=100.0, concurrency=2)
    assert cost.seconds(0) == 0.0
    assert cost.seconds(1) == cost.seconds(2) == START_S + 100.0 * COST_MARGIN
    assert cost.seconds(3) == START_S + 2 * 100.0 * COST_MARGIN
    # Whole waves only: 2 seeds per wave of 125 s after the start.
    assert cost.seeds_within(START_S + 124.9) == 0
    assert cost.seeds_within(START_S + 125.0) == 2
    assert cost.seeds_within(cost.seconds(3)) == 4
    assert cost.seeds_within(-5.0) == 0
    wall = _best("catboost", 0.76, wall=80.0)
    assert RepeatCost.of(wall, 0) == RepeatCost(80.0, 1)
    with pytest.raises(ValueError):
        RepeatCost(-1.0, 1)


def test_the_reference_gbdt_repeats_first_then_by_validation_auc() -> None:
    def plan(model: str, valid: float) -> object:
        p = plan_repeat(
            [_best(model, valid, 10.0)],
            dataset="criteo@abc",
            model=model,
            fingerprint="fp",
            seeds=repeat_seeds(0, 3),
        )
        assert p is not None
        return p

    plans = [
        plan("lightgbm", 0.70),
        plan("dcnv2", 0.77),
        plan("catboost", 0.76),
        plan("dlrm", 0.75),
    ]
    order = repeat_order(plans, gbdts={"lightgbm", "catboost"})  # type: ignore[arg-type]
    assert [p.model for p in order] == ["catboost", "dcnv2", "dlrm", "lightgbm"]
    no_gbdt = repeat_order(plans, gbdts=set())  # type: ignore[arg-type]
    assert [p.model for p in no_gbdt] == ["dcnv2", "catboost", "dlrm", "lightgbm"]


def test_a_repeat_window_gives_the_need_first_and_protects_later_models() -> None:
    cost = RepeatCost(100.0, 2)  # 3 seeds need 260 s
    # Time enough: all seeds, and the time the later models do not need.
    assert repeat_window(cost, 3, left=600.0, reserved_after=200.0) == (3, 400.0)
    # Not enough for this one and the later ones: this one (earlier in the order) first.
    assert repeat_window(cost, 3, left=300.0, reserved_after=200.0) == (3, 260.0)
    # Not enough for all its seeds: the whole waves that fit in all the time left.
    assert repeat_window(cost, 3, left=200.0, reserved_after=200.0) == (2, 200.0)
    assert repeat_window(cost, 3, left=100.0, reserved_after=0.0) == (0, 100.0)


def test_a_search_window_leaves_the_measured_repeats_at_most_the_pool() -> None:
    # No repeats: an even share.
    assert search_window(1200.0, 6, [], pool=None) == 200.0
    # Before any model is measured, the whole pool is kept.
    assert search_window(1200.0, 6, [], pool=400.0) == pytest.approx(800.0 / 6)
    # Measured needs, and their mean again per model still to search.
    assert search_window(1000.0, 2, [50.0], pool=400.0) == pytest.approx((1000.0 - 150.0) / 2)
    # Never more than the pool, never more than what is left.
    assert search_window(1000.0, 2, [900.0], pool=400.0) == pytest.approx(300.0)
    assert search_window(100.0, 1, [900.0], pool=400.0) == 0.0
    with pytest.raises(ValueError):
        search_window(100.0, 0, [], pool=None)


@dataclass(frozen=True)
class _Model:
    name: str
    gbdt: bool
    valid: float
    wall: float  # one trial's wall time, seconds


# The committed 20-minute board's models as measured on 2 cores (best trial's wall time).
_MEASURED = (
    _Model("lightgbm", True, 0.7123, 47.0),
    _Model("catboost", True, 0.7655, 101.0),
    _Model("dcnv2", False, 0.7670, 40.0),
    _Model("deepfm", False, 0.7558, 20.0),
    _Model("dlrm", False, 0.7629, 16.0),
    _Model("autoint", False, 0.7578, 88.0),
)


def _simulate(budget: float, concurrency: int = 2) -> tuple[dict[str, float], dict[str, int]]:
    """The search windows and repeat seeds each model gets when every search uses its whole
    window and every repeat wave takes its trial's wall time (plus Ray's start-up)."""
    now, pool = 0.0, REPEAT_SHARE * budget
    windows: dict[str, float] = {}
    needs: list[float] = []
    for i, m in enumerate(_MEASURED):
        windows[m.name] = search_window(budget - now, len(_MEASURED) - i, needs, pool=pool)
        now += windows[m.name]
        needs.append(RepeatCost(m.wall, concurrency).seconds(3))
    plans = {}
    for m in _MEASURED:
        p = plan_repeat(
            [_best(m.name, m.valid, m.wall)],
            dataset="criteo@abc",
            model=m.name,
            fingerprint="fp",
            seeds=repeat_seeds(0, 3),
        )
        assert p is not None
        plans[m.name] = p
    order = repeat_order(list(plans.values()), {m.name for m in _MEASURED if m.gbdt})
    costs = {m.name: RepeatCost(m.wall, concurrency) for m in _MEASURED}
    seeds: dict[str, int] = {}
    for i, plan in enumerate(order):
        later = sum(costs[p.model].seconds(3) for p in order[i + 1 :])
        n, _ = repeat_window(costs[plan.model], 3, budget - now, later)
        seeds[plan.model] = n
        if n:
            now += 4.0 + math.ceil(n / concurrency) * costs[plan.model].seed_s
    assert now <= budget
    return windows, seeds


def test_on_the_committed_boards_budget_the_reference_gbdt_completes_its_seeds() -> None:
    # With the fixed third of each model's share it had before, CatBoost (about 100 s a fit)
    # completed none of its seeds in this 20-minute run, so no lift could be tested.
    windows, seeds = _simulate(1200.0)
    assert seeds["catboost"] == 3
    # The best neural models' seeds come next and fit; every search keeps a fair window.
    assert seeds["dcnv2"] == 3 and seeds["dlrm"] == 3
    assert min(windows.values()) >= 120.0
    # The suite's default budget (30 min): all but the weakest model (last in the order) complete
    # their three seeds; the repeats never take more than their third of it.
    _, more = _simulate(1800.0)
    assert more.pop("lightgbm") < 3
    assert more == {m.name: 3 for m in _MEASURED if m.name != "lightgbm"}
