"""GPUs and threads per trial, on a local Ray cluster with logical GPUs (slow: starts Ray).

Ray can declare GPUs a machine does not have (``num_gpus``): it grants their ids and sets
``CUDA_VISIBLE_DEVICES`` in each trial as it would for real ones, while torch (CPU build or no
device) sees no CUDA. The trials' families here wait until the expected number of trials run at
once, then record what they saw from inside (torch threads, ``CUDA_VISIBLE_DEVICES``, the
device they were given). A default (not explicit) GPU request on a cluster without GPUs, which
runs on CPU with a note, is `test_tuner.test_gpu_request_on_a_cluster_without_gpus_runs_on_cpu`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import pytest

from harness.data.schema import EncodedDataset
from harness.errors import HarnessError
from harness.families.lightgbm import LightGBMConfig
from harness.families.neural import NEURAL, NeuralConfig
from harness.fitting import EpochMetrics, FitResult, TrainContext
from harness.metrics import Metrics
from harness.tuning.resources import plan_resources
from harness.tuning.space import SearchSpace, load_search_space
from harness.tuning.tuner import TuneOptions, tune_model

ray = pytest.importorskip("ray")
torch = pytest.importorskip("torch")
# Ray workers cannot import this test module: ship its classes and functions by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

# Six logical CPUs (not the machine's two cores): a trial holding 3 of them must train with 3
# threads, which torch's own default in a Ray trial on this machine (2, its cores) is not.
CPUS, GPUS = 6, 2

TINY_NEURAL = """
family = "neural"
[model.tokenizer]
embedding_dim = 4
[model.interaction]
kind = "fm"
[model.backbone]
kind = "mlp"
[model.backbone.mlp]
dims = [8]
[train]
batch_size = 512
max_epochs = 2
patience = 2
"""


LOGICAL_GPUS = pytest.mark.parametrize(
    "cluster", [{"num_cpus": CPUS, "num_gpus": GPUS}], indirect=True
)


def meet(folder: str, trial: str, together: int, timeout_s: float = 90.0) -> int:
    """Waits until ``together`` trials have arrived in ``folder``; returns how many did."""
    Path(folder, f"arrived-{trial}").touch()
    end = time.monotonic() + timeout_s
    while (n := len(list(Path(folder).glob("arrived-*")))) < together and time.monotonic() < end:
        time.sleep(0.05)
    return n


@dataclass  # not frozen: `Family`'s attributes are plain (settable) protocol members
class Observed:
    """A family that meets ``together`` trials, records what it sees inside its trial, then
    trains the neural family (``train``) or reports one fixed epoch at once."""

    folder: str
    together: int
    train: bool = True
    name: str = "neural"
    kind: Literal["gbdt", "neural"] = "neural"
    config_type: type[Any] = NeuralConfig

    def fit(self, config: Any, data: EncodedDataset, ctx: TrainContext) -> FitResult:
        trial = ray.tune.get_context().get_trial_id()
        seen: dict[str, Any] = {
            "met": meet(self.folder, trial, self.together),
            "threads_at_start": torch.get_num_threads(),
            "ctx_threads": ctx.threads,
            "device": ctx.device,
            "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "ray_gpu_ids": [str(i) for i in ray.get_gpu_ids()],
        }
        if self.train:
            epoch_threads: list[int] = []

            def on_epoch(m: EpochMetrics) -> None:
                epoch_threads.append(torch.get_num_threads())
                ctx.on_epoch(m)

            fit = NEURAL.fit(config, data, replace(ctx, on_epoch=on_epoch))
            seen["threads_in_epochs"] = epoch_threads
        else:
            fit = FitResult(
                valid=Metrics(0.7, 0.5),
                test=Metrics(0.69, 0.5),
                best_epoch=1,
                curve=(EpochMetrics(1, Metrics(0.7, 0.5), seconds=0.0),),
                n_params=1,
                train_seconds=0.0,
            )
        Path(self.folder, f"{trial}.json").write_text(json.dumps(seen))
        return fit

    def validate(self, config: Any, data: EncodedDataset) -> None:
        pass


def tiny_neural(tmp_path: Path) -> SearchSpace:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_NEURAL)
    return load_search_space(path)


def options(tmp_path: Path, **changes: Any) -> TuneOptions:
    base = TuneOptions(
        suite="unit",
        study_db=tmp_path / "s.sqlite3",
        ray_dir=tmp_path / "ray",
        show_progress=False,
    )
    return replace(base, **changes)


def seen_by(folder: Path, trial_id: str) -> dict[str, Any]:
    seen: dict[str, Any] = json.loads((folder / f"{trial_id}.json").read_text())
    return seen


@LOGICAL_GPUS
def test_trials_with_a_gpu_each_get_distinct_ids_and_threads_follow_their_cpus(
    cluster: None, planted: EncodedDataset, tmp_path: Path
) -> None:
    folder = tmp_path / "seen"
    folder.mkdir()
    rows = tune_model(
        tiny_neural(tmp_path),
        planted,
        options(tmp_path, num_samples=2, cpus_per_trial=3, gpus_per_trial=1, gpus_explicit=True),
        family=Observed(str(folder), together=2),
    )
    assert len(rows) == 2 and all(r.status == "complete" for r in rows)
    # Both ran at once (each waited for the other before training), on distinct GPUs.
    assert sorted(r.gpu_ids for r in rows) == ["0", "1"]
    for r in rows:
        seen = seen_by(folder, r.trial_id)
        assert seen["met"] == 2
        # Ray made the granted GPU the trial's only visible device; torch has no CUDA here, so
        # the trial ran on cpu and its row says which id it had been granted.
        assert seen["visible"] == r.gpu_ids and seen["ray_gpu_ids"] == [r.gpu_ids]
        assert seen["device"] == r.device == "cpu"
        assert f"granted GPU ids {r.gpu_ids} but torch sees no CUDA device: ran on cpu" in r.notes
        # Three CPUs held: three threads from the trial's start and in every epoch.
        assert r.cpus == 3.0 and seen["ctx_threads"] == 3
        assert seen["threads_at_start"] == 3
        assert seen["threads_in_epochs"] == [3, 3]


@LOGICAL_GPUS
def test_half_a_gpu_per_trial_runs_four_trials_on_two_gpus(
    cluster: None,
    planted: EncodedDataset,
    lightgbm_space: SearchSpace,
    tmp_path: Path,
) -> None:
    plan = plan_resources(
        ray.cluster_resources(), cpus_per_trial=1, gpus_per_trial=0.5, num_samples=6
    )
    assert plan.max_concurrent_trials == 4  # the GPUs bound it, not the 6 CPUs
    folder = tmp_path / "seen"
    folder.mkdir()
    rows = tune_model(
        lightgbm_space,
        planted,
        options(tmp_path, num_samples=4, gpus_per_trial=0.5, gpus_explicit=True),
        family=Observed(
            str(folder),
            together=4,
            train=False,
            name="lightgbm",
            kind="gbdt",
            config_type=LightGBMConfig,
        ),
    )
    assert len(rows) == 4 and all(r.status == "complete" for r in rows)
    assert all(seen_by(folder, r.trial_id)["met"] == 4 for r in rows)  # four at once
    # Four halves of two GPUs, all taken at once: each id shared by exactly two trials.
    assert Counter(r.gpu_ids for r in rows) == {"0": 2, "1": 2}
    assert all(seen_by(folder, r.trial_id)["visible"] == r.gpu_ids for r in rows)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("cluster", [{"num_cpus": 1, "num_gpus": 0}], indirect=True)
def test_an_explicit_gpu_request_on_a_cluster_without_gpus_fails_before_any_trial(
    cluster: None, planted: EncodedDataset, tmp_path: Path
) -> None:
    table = tmp_path / "results.parquet"
    folder = tmp_path / "seen"
    folder.mkdir()
    with pytest.raises(HarnessError) as caught:
        tune_model(
            tiny_neural(tmp_path),
            planted,
            options(tmp_path, results_path=table, gpus_per_trial=1, gpus_explicit=True),
            family=Observed(str(folder), together=1),
        )
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("--gpus-per-trial 1 asks for 1 GPU per trial")
    assert "has no GPU (CPU: 1)" in text and "drop --gpus-per-trial" in text
    # Nothing ran: no trial arrived, no row, no Ray Tune run folder.
    assert not list(folder.iterdir()) and not table.exists()
    assert not (tmp_path / "ray").exists()
