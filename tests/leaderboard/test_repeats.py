"""The repeat stage on the leaderboard: mean ± std over seeds, the comparison with the best GBDT
(paired t-test over seeds, bootstrap over the test rows), and the plan of what to repeat."""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from harness.errors import HarnessError
from harness.leaderboard.markdown import RunInfo, render
from harness.leaderboard.summary import summarize
from harness.repeats import TEST_LABELS, plan_repeat, repeat_key, repeat_seeds
from harness.results.table import TrialResult
from tests.leaderboard.boards import run_info

KINDS = {"lightgbm": ("gbdt", "fp-lgb"), "dcnv2": ("neural", "fp-dcn"), "mlp": ("neural", "fp-mlp")}
_FAMILY = {"lightgbm": "lightgbm", "dcnv2": "neural", "mlp": "neural"}
_CONFIG = {
    "lightgbm": {"learning_rate": 0.05, "num_leaves": 31},
    "dcnv2": {"model": {"interaction": {"kind": "cross", "cross": {"layers": 2}}}},
    "mlp": {"model": {"interaction": {"kind": "none"}}},
}


def _row(model: str, valid: float, test: float, **kw: object) -> TrialResult:
    kw.setdefault("space_fingerprint", KINDS[model][1])
    kw.setdefault("study_trial", 0)
    kw.setdefault("seed", 0)
    kw.setdefault("study", f"criteo/{model}@fp")
    return TrialResult(
        suite="criteo",
        dataset="criteo@abc",
        protocol="sequential",
        family=_FAMILY[model],
        model=model,
        trial_id=f"{model}-{kw['study_trial']}-{kw['seed']}-{kw.get('repeat_of', '')}",
        params="{}",
        status=str(kw.pop("status", "complete")),
        valid_auc=valid,
        valid_logloss=0.45,
        test_auc=test,
        test_logloss=0.46,
        n_params=1000,
        train_seconds=10.0,
        samples_per_s=5000.0,
        predict_samples_per_s=80000.0,
        config=json.dumps(_CONFIG[model]),
        **kw,  # type: ignore[arg-type]
    )


def _info() -> RunInfo:
    return run_info(rows=(8000, 1000, 4000), trials_per_model=4)


def _predictions(run_dir: Path, y: np.ndarray, strength: float, seed: int, name: str) -> str:
    rng = np.random.default_rng(seed)
    scores = (strength * y + rng.normal(size=len(y))).astype(np.float32)
    (run_dir / "predictions").mkdir(parents=True, exist_ok=True)
    np.save(run_dir / "predictions" / f"{name}.npy", scores)
    return f"predictions/{name}.npy"


def _repeated(
    run_dir: Path, model: str, strength: float, y: np.ndarray, best: TrialResult
) -> list[TrialResult]:
    """Three complete repeats of ``best``, with kept predictions of planted strength."""
    out = []
    for seed in repeat_seeds(0, 3):
        name = f"{model}-s{seed}"
        path = _predictions(run_dir, y, strength, 1000 * seed + len(model), name)
        auc = float(roc_auc_score(y, np.load(run_dir / path)))
        out.append(
            _row(
                model,
                0.79,
                auc,
                seed=seed,
                repeat_of=repeat_key(best),
                predictions=path,
                study_trial=seed,
                study=f"criteo/repeats/{model}@c0",
            )
        )
    return out


@pytest.fixture
def labels(tmp_path: Path) -> np.ndarray:
    y = (np.random.default_rng(0).random(4000) < 0.3).astype(np.float32)
    (tmp_path / "predictions").mkdir()
    np.save(tmp_path / "predictions" / TEST_LABELS, y)
    return y


def test_a_truly_better_model_is_significant_and_an_equal_one_is_not(
    tmp_path: Path, labels: np.ndarray
) -> None:
    gbdt = _row("lightgbm", 0.78, 0.70)
    dcn = _row("dcnv2", 0.80, 0.75)
    mlp = _row("mlp", 0.79, 0.71)
    rows = [gbdt, dcn, mlp]
    rows += _repeated(tmp_path, "lightgbm", 0.8, labels, gbdt)
    rows += _repeated(tmp_path, "dcnv2", 1.4, labels, dcn)  # truly better
    rows += _repeated(tmp_path, "mlp", 0.8, labels, mlp)  # the GBDT's equal
    by_model = {s.model: s for s in summarize(rows, KINDS, run_dir=tmp_path, resamples=300)}

    reference, better, equal = by_model["lightgbm"], by_model["dcnv2"], by_model["mlp"]
    assert reference.reference and reference.comparison is None
    assert better.comparison is not None and better.comparison.significant is True
    assert equal.comparison is not None and equal.comparison.significant is False
    assert equal.comparison.interval is not None
    assert equal.comparison.interval.low < 0 < equal.comparison.interval.high

    # Mean ± std, lift and p exactly as computed from the repeats themselves.
    aucs = {m: [r.test_auc for r in rows if r.model == m and r.repeat_of] for m in KINDS}
    assert better.repeats is not None and better.repeats.test_auc is not None
    assert better.repeats.seeds == (1, 2, 3)
    assert better.repeats.test_auc.mean == pytest.approx(statistics.fmean(aucs["dcnv2"]))
    assert better.repeats.test_auc.std == pytest.approx(statistics.stdev(aucs["dcnv2"]))
    assert better.lift == pytest.approx(
        statistics.fmean(aucs["dcnv2"]) - statistics.fmean(aucs["lightgbm"])
    )
    assert better.comparison.test.p_value == pytest.approx(
        stats.ttest_rel(aucs["dcnv2"], aucs["lightgbm"]).pvalue
    )
    # Repeats are neither trials of the search nor its best.
    assert better.best is dcn and better.trials == 1

    text = render(_info(), list(by_model.values()))
    line = next(x for x in text.splitlines() if x.startswith("| 1 | dcnv2 |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2:7] == [
        "0.8000",
        "0.7500",
        f"{better.repeats.test_auc.mean:.4f} ± {better.repeats.test_auc.std:.4f}",
        "0.4600 ± 0.0000",
        "3",
    ]
    assert cells[7] == f"{better.lift:+.4f}" and cells[10] == "yes"
    assert cells[8].startswith("[+") and "300 resamples" in text
    assert "| mlp |" in text and "| no |" in text
    assert "paired t-test over those seeds" in text and "seeds 1, 2, 3" in text


def test_without_predictions_the_t_test_alone_decides(tmp_path: Path) -> None:
    gbdt, dcn = _row("lightgbm", 0.78, 0.70), _row("dcnv2", 0.80, 0.75)
    rows = [gbdt, dcn]
    pairs = [(0.75, 0.70), (0.76, 0.70), (0.755, 0.701)]
    for seed, (a, b) in zip(repeat_seeds(0, 3), pairs, strict=True):
        rows.append(_row("dcnv2", 0.8, a, seed=seed, repeat_of=repeat_key(dcn), study_trial=seed))
        rows.append(
            _row("lightgbm", 0.78, b, seed=seed, repeat_of=repeat_key(gbdt), study_trial=seed)
        )
    (dcn_summary,) = [s for s in summarize(rows, KINDS, run_dir=tmp_path) if s.model == "dcnv2"]
    assert dcn_summary.comparison is not None
    assert dcn_summary.comparison.interval is None
    assert dcn_summary.comparison.test.p_value == pytest.approx(
        stats.ttest_rel([0.75, 0.76, 0.755], [0.70, 0.70, 0.701]).pvalue
    )
    assert dcn_summary.comparison.significant is True


def test_repeats_of_an_older_best_and_incomplete_seeds_are_not_averaged() -> None:
    old_best, new_best = _row("dcnv2", 0.79, 0.74), _row("dcnv2", 0.81, 0.76, study_trial=5)
    rows = [
        old_best,
        new_best,
        _row("dcnv2", 0.8, 0.60, seed=1, repeat_of=repeat_key(old_best), study_trial=1),
        _row("dcnv2", 0.8, 0.75, seed=1, repeat_of=repeat_key(new_best), study_trial=2),
        _row("dcnv2", 0.8, 0.77, seed=2, repeat_of=repeat_key(new_best), study_trial=3),
        _row(
            "dcnv2",
            0.8,
            0.70,
            seed=3,
            repeat_of=repeat_key(new_best),
            study_trial=4,
            status="pruned",
        ),
    ]
    (s,) = [s for s in summarize(rows, KINDS) if s.model == "dcnv2"]
    assert s.best is new_best and s.trials == 2
    assert s.repeats is not None and s.repeats.test_auc is not None
    assert s.repeats.seeds == (1, 2) and s.repeats.asked == 3 and s.repeats.pruned == 1
    assert s.repeats.test_auc.mean == pytest.approx(0.76)
    text = render(_info(), summarize(rows, KINDS))
    assert "| 2 of 3 |" in text and "- dcnv2: 1 of 3 (1 stopped by the time budget" in text


def test_plan_repeat_runs_only_the_seeds_not_recorded() -> None:
    best = _row("dcnv2", 0.81, 0.76, study_trial=3)
    rows = [
        _row("dcnv2", 0.79, 0.74, study_trial=1),
        best,
        _row("dcnv2", 0.8, 0.75, seed=1, repeat_of=repeat_key(best), study_trial=1),
        _row(
            "dcnv2",
            0.8,
            0.75,
            seed=2,
            repeat_of=repeat_key(best),
            study_trial=2,
            status="interrupted",
        ),
    ]
    plan = plan_repeat(
        rows, dataset="criteo@abc", model="dcnv2", fingerprint="fp-dcn", seeds=repeat_seeds(0, 3)
    )
    assert plan is not None
    assert plan.best is best and plan.key == "criteo/dcnv2@fp#3"
    assert plan.pending == (2, 3)  # seed 1 is recorded; the interrupted seed 2 runs again
    assert not plan.space.params and plan.space.name == "dcnv2"
    assert plan.space.build_config({}).model.interaction.kind == "cross"
    none = plan_repeat(rows, dataset="criteo@abc", model="dcnv2", fingerprint="other", seeds=(1,))
    assert none is None
    no_seeds = plan_repeat(
        rows, dataset="criteo@abc", model="dcnv2", fingerprint="fp-dcn", seeds=()
    )
    assert no_seeds is None
    assert repeat_seeds(7, 3) == (8, 9, 10) and repeat_seeds(0, 0) == ()


def test_plan_repeat_of_a_config_that_no_longer_builds_is_one_line() -> None:
    broken = replace(_row("dcnv2", 0.81, 0.76), config=json.dumps({"model": {"nope": 1}}))
    with pytest.raises(HarnessError, match="trial dcnv2-0-0-"):
        plan_repeat([broken], dataset="criteo@abc", model="dcnv2", fingerprint="fp-dcn", seeds=(1,))
