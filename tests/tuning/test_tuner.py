"""The Ray Tune + Optuna tuner on local Ray clusters (slow: each test starts Ray)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import optuna
import pytest

from harness.data.schema import EncodedDataset, EncodedSplit, FeatureSchema
from harness.families.lightgbm import LIGHTGBM, LightGBMConfig
from harness.fitting import FitResult, TrainContext
from harness.results import TrialResult, read_results
from harness.tuning.space import SearchSpace
from harness.tuning.tuner import TuneOptions, study_name, tune_model

ray = pytest.importorskip("ray")
# Ray workers cannot import this test module: ship its classes and functions by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@dataclass(frozen=True)
class FailOnce:
    """LightGBM, except that the first trial to start raises (a marker file decides which)."""

    marker: str
    name: str = "lightgbm"
    kind: Literal["gbdt", "neural"] = "gbdt"
    config_type: type[Any] = LightGBMConfig

    def fit(self, config: Any, data: EncodedDataset, ctx: TrainContext) -> FitResult:
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return LIGHTGBM.fit(config, data, ctx)
        raise RuntimeError("planted failure")


def save_cache(data: EncodedDataset, folder: Path) -> EncodedDataset:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schema.json").write_text(data.schema.to_json())
    for split in ("train", "valid", "test"):
        for array in ("x_num", "x_cat", "y"):
            np.save(folder / f"{split}_{array}.npy", getattr(data.split(split), array))
    return replace(data, cache_dir=str(folder))


def load_cache(folder: str) -> EncodedDataset:
    """Memory-maps a cache (and leaves a marker, so the test sees the trials used it)."""
    Path(folder, f"loaded-by-{os.getpid()}").touch()

    def split(name: str) -> EncodedSplit:
        x_num, x_cat, y = (
            np.load(Path(folder, f"{name}_{a}.npy"), mmap_mode="r") for a in ("x_num", "x_cat", "y")
        )
        return EncodedSplit(x_num=x_num, x_cat=x_cat, y=y)

    return EncodedDataset(
        name="planted",
        schema=FeatureSchema.from_json(Path(folder, "schema.json").read_text()),
        train=split("train"),
        valid=split("valid"),
        test=split("test"),
        protocol="random",
        cache_dir=folder,
    )


def check_rows(rows: list[TrialResult]) -> None:
    for r in rows:
        assert r.suite == "unit" and r.family == "lightgbm" and r.model == "lightgbm"
        assert r.study.startswith("unit/lightgbm@") and r.space_fingerprint
        assert r.study == f"unit/lightgbm@{r.space_fingerprint[:8]}"
        # The resolved config: the constants of the file and the sampled values.
        config = json.loads(r.config)
        assert config["n_estimators"] == 120 and config["rounds_per_epoch"] == 20
        assert config["num_leaves"] == json.loads(r.params)["num_leaves"]
        assert r.dataset == "planted" and r.protocol == "random"
        assert r.lightgbm_version and r.ray_version and r.optuna_version
        assert r.started_at and r.wall_seconds > 0
        params = json.loads(r.params)
        assert set(params) == {"learning_rate", "num_leaves", "categorical"}
        if r.status == "complete":
            assert r.test_auc is not None and r.test_auc > 0.75
            assert r.valid_auc is not None and r.best_epoch is not None
            assert r.n_params is not None and r.n_params > 0
            assert json.loads(r.curve) and r.epochs >= r.best_epoch
        elif r.status == "pruned":
            assert r.test_auc is None and json.loads(r.curve)


def test_tunes_lightgbm_and_a_second_call_adds_to_the_study(
    planted: EncodedDataset, lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    db, table = tmp_path / "studies.sqlite3", tmp_path / "results.parquet"
    options = TuneOptions(
        suite="unit", study_db=db, results_path=table, num_cpus=2, show_progress=False
    )
    first = tune_model(lightgbm_space, planted, replace(options, num_samples=3), family=LIGHTGBM)
    assert not ray.is_initialized()  # it started its own local cluster and shut it down
    assert len(first) == 3
    check_rows(first)
    assert any(r.status == "complete" for r in first)
    assert {r.study_trial for r in first} == {0, 1, 2}
    assert read_results(table) == first  # each row was appended as its trial finished

    study = optuna.load_study(
        study_name=study_name("unit", lightgbm_space), storage=f"sqlite:///{db}"
    )
    assert len(study.trials) == 3
    for r in first:
        trial = study.trials[r.study_trial]  # type: ignore[index]
        assert json.loads(r.params) == trial.params
        if r.status == "complete":
            assert trial.value == pytest.approx(r.valid_auc)

    second = tune_model(lightgbm_space, planted, replace(options, num_samples=2))  # registered
    assert {r.study_trial for r in second} == {3, 4}
    study = optuna.load_study(
        study_name=study_name("unit", lightgbm_space), storage=f"sqlite:///{db}"
    )
    assert len(study.trials) == 5
    # A re-run samples new points (the sampler seed moves with the study's size).
    assert {r.params for r in second}.isdisjoint({r.params for r in first})
    assert len(read_results(table)) == 5


@pytest.mark.parametrize("cluster", [{"num_cpus": 2, "num_gpus": 2}], indirect=True)
def test_logical_gpus_are_granted_and_trials_fall_back_to_cpu(
    cluster: None, planted: EncodedDataset, lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    cached = save_cache(planted, tmp_path / "cache")
    rows = tune_model(
        lightgbm_space,
        cached,
        TuneOptions(
            suite="unit",
            study_db=tmp_path / "s.sqlite3",
            num_samples=2,
            gpus_per_trial=0.5,
            show_progress=False,
        ),
        family=LIGHTGBM,
        load_dataset=load_cache,
    )
    assert ray.is_initialized()  # a cluster it did not start is left running
    assert len(rows) == 2
    check_rows(rows)
    for r in rows:
        assert r.gpu_ids in {"0", "1"}
        assert r.device == "cpu"
        assert "torch sees no CUDA" in r.notes
    # Each trial memory-mapped the cache itself (no copy through the object store).
    assert list((tmp_path / "cache").glob("loaded-by-*"))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("cluster", [{"num_cpus": 2}], indirect=True)
def test_gpu_request_on_a_cluster_without_gpus_runs_on_cpu(
    cluster: None, planted: EncodedDataset, lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    rows = tune_model(
        lightgbm_space,
        planted,
        TuneOptions(
            suite="unit",
            study_db=tmp_path / "s.sqlite3",
            num_samples=2,
            gpus_per_trial=1.0,
            show_progress=False,
        ),
        family=LIGHTGBM,
    )
    assert len(rows) == 2
    check_rows(rows)
    for r in rows:
        assert r.gpu_ids == "" and r.device == "cpu"
        assert "cluster has none" in r.notes


@pytest.mark.parametrize("cluster", [{"num_cpus": 2}], indirect=True)
def test_a_failing_trial_is_a_failed_row_and_the_others_finish(
    cluster: None, planted: EncodedDataset, lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    db, table = tmp_path / "s.sqlite3", tmp_path / "results.parquet"
    rows = tune_model(
        lightgbm_space,
        planted,
        TuneOptions(
            suite="unit", study_db=db, results_path=table, num_samples=3, show_progress=False
        ),
        family=FailOnce(marker=str(tmp_path / "failed-once")),
    )
    assert len(rows) == 3
    check_rows(rows)
    failed = [r for r in rows if r.status == "failed"]
    assert len(failed) == 1
    assert failed[0].error == "RuntimeError: planted failure"
    assert failed[0].test_auc is None
    traceback_file = failed[0].notes.split("traceback in ")[1]
    assert "planted failure" in Path(traceback_file).read_text()
    assert any(r.status == "complete" for r in rows)
    assert len(read_results(table)) == 3
    study = optuna.load_study(
        study_name=study_name("unit", lightgbm_space), storage=f"sqlite:///{db}"
    )
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 1


@dataclass(frozen=True)
class Sleepy:
    """A family whose every epoch takes ``seconds`` and scores a fixed AUC."""

    seconds: float
    epochs: int = 2
    name: str = "lightgbm"
    kind: Literal["gbdt", "neural"] = "gbdt"
    config_type: type[Any] = LightGBMConfig

    def fit(self, config: Any, data: EncodedDataset, ctx: TrainContext) -> FitResult:
        import time

        from harness.fitting import EpochMetrics
        from harness.metrics import Metrics

        curve = []
        for epoch in range(1, self.epochs + 1):
            time.sleep(self.seconds)
            # Like a neural family: test is scored on the best epoch so far (epoch 1 here).
            test = Metrics(0.69, 0.5) if epoch == 1 else None
            metrics = EpochMetrics(
                epoch, Metrics(0.7, 0.5), seconds=self.seconds, test=test, n_params=7
            )
            curve.append(metrics)
            ctx.on_epoch(curve[-1])
        return FitResult(
            valid=Metrics(0.7, 0.5),
            test=Metrics(0.69, 0.5),
            best_epoch=self.epochs,
            curve=tuple(curve),
            n_params=7,
            train_seconds=self.seconds * self.epochs,
        )


@pytest.mark.parametrize("cluster", [{"num_cpus": 2}], indirect=True)
def test_time_budget_stops_launching_and_lets_running_trials_finish(
    cluster: None, planted: EncodedDataset, lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    rows = tune_model(
        lightgbm_space,
        planted,
        TuneOptions(
            suite="unit",
            study_db=tmp_path / "s.sqlite3",
            num_samples=8,
            time_budget_s=2.0,
            hard_time_limit_s=120.0,
            show_progress=False,
        ),
        family=Sleepy(seconds=1.5),
    )
    # Each trial takes 3 s and 2 run at once: only those launched in the first 2 s start.
    assert 1 <= len(rows) < 8
    assert all(r.status == "complete" and r.test_auc == 0.69 for r in rows)


@pytest.mark.parametrize("cluster", [{"num_cpus": 2}], indirect=True)
def test_trials_cut_by_the_hard_limit_are_recorded(
    cluster: None, planted: EncodedDataset, lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    table = tmp_path / "results.parquet"
    rows = tune_model(
        lightgbm_space,
        planted,
        TuneOptions(
            suite="unit",
            study_db=tmp_path / "s.sqlite3",
            results_path=table,
            num_samples=2,
            time_budget_s=5.0,
            hard_time_limit_s=12.0,
            show_progress=False,
        ),
        family=Sleepy(seconds=4.0, epochs=20),
    )
    assert len(rows) == 2
    assert all(r.status == "pruned" for r in rows)
    # Each reached a few epochs before the limit: its curve, best validation AUC and the test
    # score of that best epoch are kept.
    assert all(r.valid_auc == 0.7 and r.epochs >= 1 and r.best_epoch == 1 for r in rows)
    assert all(r.test_auc == 0.69 and "test scored at its best epoch (1)" in r.notes for r in rows)
    # Its size (sent with each epoch) and its epochs' seconds until it stopped; no throughput.
    assert all(r.n_params == 7 and r.samples_per_s is None for r in rows)
    assert all(r.train_seconds == pytest.approx(4.0 * r.epochs) for r in rows)
    assert len(read_results(table)) == 2
    # The study says the same: PRUNED (not RUNNING, not COMPLETE), with the epochs it reported.
    study = optuna.load_study(
        study_name=study_name("unit", lightgbm_space), storage=f"sqlite:///{tmp_path / 's.sqlite3'}"
    )
    for r in rows:
        trial = study.trials[r.study_trial]  # type: ignore[index]
        assert trial.state == optuna.trial.TrialState.PRUNED
        assert sorted(trial.intermediate_values) == list(range(1, r.epochs + 1))
        assert "time budget" in r.notes


NEURAL_SPACE = """
family = "neural"
[model.tokenizer]
embedding_dim = 4
[model.interaction]
kind = { choice = ["cross", "fm"] }
[model.interaction.cross]
layers = { int = [1, 2] }
[model.backbone]
kind = "mlp"
[model.backbone.mlp]
dims = { choice = [[16], [16, 8]] }
[train]
learning_rate = { float = [1e-3, 1e-2], log = true }
batch_size = 256
max_epochs = 2
"""


@pytest.mark.parametrize("cluster", [{"num_cpus": 2}], indirect=True)
def test_a_neural_space_with_dotted_conditional_names_round_trips(
    cluster: None, planted: EncodedDataset, tmp_path: Path
) -> None:
    from harness.tuning.space import load_search_space

    path = tmp_path / "tiny.toml"
    path.write_text(NEURAL_SPACE)
    space = load_search_space(path)
    db = tmp_path / "s.sqlite3"
    rows = tune_model(
        space,
        planted,
        TuneOptions(suite="unit", study_db=db, num_samples=4, seed=1, show_progress=False),
    )
    assert len(rows) == 4 and all(r.family == "neural" and r.model == "tiny" for r in rows)
    study = optuna.load_study(study_name=study_name("unit", space), storage=f"sqlite:///{db}")
    for r in rows:
        params = json.loads(r.params)
        # Ray passed the dotted names through unchanged, and only the chosen kind's ones.
        assert params == study.trials[r.study_trial].params  # type: ignore[index]
        kind = params["model.interaction.kind"]
        assert ("model.interaction.cross.layers" in params) == (kind == "cross")
        config = json.loads(r.config)
        assert config["model"]["interaction"]["kind"] == kind
        assert config["train"]["batch_size"] == 256
        # The row's config rebuilds the trial's typed config exactly.
        assert space.build_config(params).model.interaction.kind == kind
    # Some sampled configuration learns the planted signal in its two epochs.
    assert max(r.test_auc or 0.0 for r in rows) > 0.6
