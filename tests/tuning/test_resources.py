"""Per-trial resources from what the Ray cluster has (no Ray started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.tuning.resources import pick_device, trial_threads
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


@pytest.mark.parametrize("cluster", [{"CPU": 8.0}, {"CPU": 8.0, "GPU": 0.0}])
def test_an_explicit_gpu_request_on_a_cluster_without_gpus_is_a_one_line_error(
    cluster: dict[str, float],
) -> None:
    with pytest.raises(HarnessError) as caught:
        plan_resources(
            cluster, cpus_per_trial=1, gpus_per_trial=0.5, num_samples=4, gpus_explicit=True
        )
    text = str(caught.value)
    assert "\n" not in text
    # What was asked, what the cluster has, what to do.
    assert "--gpus-per-trial 0.5" in text and "has no GPU (CPU: 8)" in text
    assert "drop --gpus-per-trial" in text and "join a cluster with GPUs" in text
    # The default request (not the user's) keeps the note and the run on CPU.
    plan = plan_resources(cluster, cpus_per_trial=1, gpus_per_trial=0.5, num_samples=4)
    assert plan.gpus_per_trial == 0 and "has none" in plan.notes[0]


def test_an_explicit_request_the_cluster_can_give_plans_as_the_default_one() -> None:
    cluster = {"CPU": 4.0, "GPU": 2.0}
    for explicit in (True, False):
        plan = plan_resources(
            cluster, cpus_per_trial=1, gpus_per_trial=0.5, num_samples=8, gpus_explicit=explicit
        )
        assert (plan.gpus_per_trial, plan.max_concurrent_trials, plan.notes) == (0.5, 4, ())
    with pytest.raises(HarnessError, match="2 GPUs but the Ray cluster has 1; lower"):
        plan_resources(
            {"CPU": 4.0, "GPU": 1.0},
            cpus_per_trial=1,
            gpus_per_trial=2,
            num_samples=1,
            gpus_explicit=True,
        )


@pytest.mark.parametrize(
    ("gpu_ids", "visible", "count", "device"),
    [
        ([3], "3", 1, "cuda:0"),  # Ray made the granted id the only visible device
        ([1, 2], "1,2", 2, "cuda:0"),  # two GPUs: the fit uses the first granted one
        ([3], "2,3", 2, "cuda:1"),  # visible set wider than the grant: the id's place in it
        (["GPU-ab"], "GPU-aa,GPU-ab", 2, "cuda:1"),  # ids as UUIDs
        ([2], None, 4, "cuda:2"),  # nothing restricts the devices: the id is the device
    ],
)
def test_the_device_is_the_first_granted_gpu_among_the_visible_ones(
    gpu_ids: list[object], visible: str | None, count: int, device: str
) -> None:
    env = {} if visible is None else {"CUDA_VISIBLE_DEVICES": visible}
    assert pick_device(gpu_ids, env=env, cuda_devices=count) == (device, "")


def test_without_cuda_or_gpu_ids_the_trial_runs_on_cpu() -> None:
    assert pick_device([], env={}, cuda_devices=2) == ("cpu", "")
    device, note = pick_device([0, 1], env={"CUDA_VISIBLE_DEVICES": "0,1"}, cuda_devices=0)
    assert device == "cpu"
    assert note == "granted GPU ids 0,1 but torch sees no CUDA device: ran on cpu"
    # An id the visible set does not hold: the first visible device, said in the note.
    device, note = pick_device([5], env={"CUDA_VISIBLE_DEVICES": "0"}, cuda_devices=1)
    assert device == "cuda:0" and "granted GPU ids 5" in note


@pytest.mark.parametrize(("cpus", "threads"), [(0.5, 1), (1.0, 1), (2.0, 2), (2.5, 2), (8, 8)])
def test_threads_are_the_whole_cpus_a_trial_holds(cpus: float, threads: int) -> None:
    assert trial_threads(cpus) == threads
