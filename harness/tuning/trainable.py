"""The Ray trainable: one trial builds its config, fits, and reports per epoch and at the end.

Data reaches trials once: a dataset with ``cache_dir`` is memory-mapped by each trial through
``load_dataset``; an in-memory dataset goes through Ray's object store (``tune.with_parameters``),
not through every trial's config.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray
import torch
from ray import tune

from harness.data.schema import EncodedDataset
from harness.families.base import Family
from harness.fitting import EpochMetrics, TrainContext
from harness.tuning.reports import EpochReport, FinalReport, Placement
from harness.tuning.resources import gpu_id_text, pick_device, trial_threads
from harness.tuning.space import SearchSpace

__all__ = [
    "PREDICTIONS_FILE",
    "SPACE_KEY",
    "STUDY_TRIAL_KEY",
    "TRIAL_SEED_KEY",
    "TrialSetup",
    "run_trial",
]

# The Optuna trial number travels in each trial's config under this key (not a parameter).
STUDY_TRIAL_KEY = "__study_trial"
# A trial's own training seed, where it has one (a factor study's seeds), travels under this key;
# without it the trial trains with ``TrialSetup.seed``.
TRIAL_SEED_KEY = "__seed"
# Which of ``TrialSetup.spaces`` the trial's parameters belong to (a factor study's arm).
SPACE_KEY = "__space"


@dataclass(frozen=True)
class TrialSetup:
    """Everything a trial needs besides its sampled parameters (sent once via the object store).

    ``seed`` is the training seed of every trial that was not given its own (``TRIAL_SEED_KEY``);
    ``spaces`` are the search spaces the trials' parameters belong to (one for a search, one per
    arm for factor studies; ``SPACE_KEY`` says which).

    ``deadline`` (a ``time.time()``) ends the model's share of the budget: the fit stops at the
    first epoch end past it and reports its best epoch so far.

    ``keep_predictions``: the final report carries the fit's test predictions as a Ray
    checkpoint (``PREDICTIONS_FILE``), which Ray moves to the run's storage and the recorder
    keeps in the run folder (the repeat stage's trials, for the leaderboard's bootstrap).

    ``teachers_dir``: the run folder's teachers' scores (an absolute path), the trials'
    ``TrainContext.teachers_dir`` (distillation); None: no teachers.
    """

    family: Family
    spaces: tuple[SearchSpace, ...]
    seed: int
    cpus: float
    cache_dir: str | None = None
    load_dataset: Callable[[str], EncodedDataset] | None = None
    deadline: float | None = None
    keep_predictions: bool = False
    teachers_dir: str | None = None


# The test predictions (float32, row order) inside a trial's final checkpoint.
PREDICTIONS_FILE = "test_predictions.npy"

_KEYS = (STUDY_TRIAL_KEY, TRIAL_SEED_KEY, SPACE_KEY)


def run_trial(
    config: dict[str, Any], setup: TrialSetup, data: EncodedDataset | None = None
) -> None:
    """Builds the config, fits, reports an ``EpochReport`` per epoch and a ``FinalReport``."""
    # The CPUs and GPU ids this trial holds: its threads follow the CPUs (also for torch work
    # outside the family's fit), its device the first granted GPU (see `resources`).
    granted = tune.get_context().get_trial_resources().required_resources
    cpus = float(granted.get("CPU", setup.cpus))
    threads = trial_threads(cpus)
    torch.set_num_threads(threads)
    gpu_ids = list(ray.get_gpu_ids())
    device, note = pick_device(gpu_ids)
    placement = Placement(device, gpu_id_text(gpu_ids), cpus, note)

    params = {k: v for k, v in config.items() if k not in _KEYS}
    seed = config.get(TRIAL_SEED_KEY)
    family_config = setup.spaces[int(config.get(SPACE_KEY, 0))].build_config(params)
    if data is None:
        if setup.cache_dir is None or setup.load_dataset is None:
            raise RuntimeError("the trial got neither a dataset nor a cache folder to map")
        data = setup.load_dataset(setup.cache_dir)

    def on_epoch(m: EpochMetrics) -> None:
        tune.report(EpochReport.of(m, placement).to_result())

    ctx = TrainContext(
        seed=setup.seed if seed is None else int(seed),
        threads=threads,
        device=device,
        on_epoch=on_epoch,
        deadline=setup.deadline,
        teachers_dir=setup.teachers_dir,
    )
    fit = setup.family.fit(family_config, data, ctx)
    final = FinalReport.of(fit, data.schema.labels, placement).to_result()
    if not setup.keep_predictions or fit.test_scores is None:
        tune.report(final)
        return
    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / PREDICTIONS_FILE, np.asarray(fit.test_scores, dtype=np.float32))
        tune.report(final, checkpoint=tune.Checkpoint.from_directory(folder))
