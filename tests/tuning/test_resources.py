"""Per-trial resources from what the Ray cluster has (no Ray started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.tuning.space import load_search_space
from harness.tuning.tuner import plan_resources, study_name


def test_gpus_are_dropped_when_the_cluster_has_none() -> None:
    plan = plan_resources({"CPU": 8.0}, cpus_per_trial=2, gpus_per_trial=1, num_samples=10)
    assert plan.gpus_per_trial == 0
    assert plan.max_concurrent_trials == 4
    assert "has none" in plan.notes[0]


def test_fractional_gpus_bound_concurrency() -> None:
    plan = plan_resources(
        {"CPU": 16.0, "GPU": 2.0}, cpus_per_trial=2, gpus_per_trial=0.5, num_samples=10
    )
    assert plan.gpus_per_trial == 0.5 and plan.max_concurrent_trials == 4
    plan = plan_resources(
        {"CPU": 16.0, "GPU": 1.0}, cpus_per_trial=1, gpus_per_trial=1, num_samples=10
    )
    assert plan.max_concurrent_trials == 1


def test_concurrency_is_capped_by_samples_and_the_user() -> None:
    assert (
        plan_resources(
            {"CPU": 8.0}, cpus_per_trial=1, gpus_per_trial=0, num_samples=3
        ).max_concurrent_trials
        == 3
    )
    plan = plan_resources(
        {"CPU": 8.0}, cpus_per_trial=1, gpus_per_trial=0, num_samples=30, max_concurrent_trials=2
    )
    assert plan.max_concurrent_trials == 2


@pytest.mark.parametrize(
    ("cluster", "cpus", "gpus", "match"),
    [
        ({"CPU": 2.0}, 4, 0.0, "4 CPUs but the Ray cluster has 2"),
        ({"CPU": 8.0, "GPU": 1.0}, 1, 2.0, "2 GPUs but the Ray cluster has 1"),
        ({"CPU": 8.0}, 0, 0.0, "positive"),
    ],
)
def test_unsatisfiable_requests_are_errors(
    cluster: dict[str, float], cpus: float, gpus: float, match: str
) -> None:
    with pytest.raises(HarnessError, match=match):
        plan_resources(cluster, cpus_per_trial=cpus, gpus_per_trial=gpus, num_samples=4)


def test_study_name_holds_the_model_and_its_space_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "lightgbm.toml"
    path.write_text('family = "lightgbm"\nnum_leaves = { int = [4, 8] }\n')
    space = load_search_space(path)
    assert study_name("criteo", space) == f"criteo/lightgbm@{space.fingerprint[:8]}"
    path.write_text('family = "lightgbm"\nnum_leaves = { int = [4, 16] }\n')
    assert study_name("criteo", load_search_space(path)) != study_name("criteo", space)


def test_fractional_gpus_pack_as_many_trials_as_fit() -> None:
    for fraction, expected in ((0.5, 2), (0.25, 4), (0.2, 5), (0.1, 10), (1 / 3, 3)):
        plan = plan_resources(
            {"CPU": 16.0, "GPU": 1.0}, cpus_per_trial=1, gpus_per_trial=fraction, num_samples=20
        )
        assert plan.max_concurrent_trials == expected, fraction
