"""The Ray trainable: one trial builds its config, fits, and reports per epoch and at the end.

Data reaches trials once: a dataset with ``cache_dir`` is memory-mapped by each trial through
``load_dataset``; an in-memory dataset goes through Ray's object store (``tune.with_parameters``),
not through every trial's config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
from ray import tune

from harness.data.schema import EncodedDataset
from harness.families.base import Family
from harness.fitting import EpochMetrics, TrainContext
from harness.tuning.reports import EpochReport, FinalReport, Placement
from harness.tuning.resources import gpu_id_text, pick_device
from harness.tuning.space import SearchSpace

__all__ = ["STUDY_TRIAL_KEY", "TrialSetup", "run_trial"]

# The Optuna trial number travels in each trial's config under this key (not a parameter).
STUDY_TRIAL_KEY = "__study_trial"


@dataclass(frozen=True)
class TrialSetup:
    """Everything a trial needs besides its sampled parameters (sent once via the object store).

    ``deadline`` (a ``time.time()``) ends the model's share of the budget: the fit stops at the
    first epoch end past it and reports its best epoch so far.
    """

    family: Family
    space: SearchSpace
    seed: int
    cpus: float
    cache_dir: str | None = None
    load_dataset: Callable[[str], EncodedDataset] | None = None
    deadline: float | None = None


def run_trial(
    config: dict[str, Any], setup: TrialSetup, data: EncodedDataset | None = None
) -> None:
    """Builds the config, fits, reports an ``EpochReport`` per epoch and a ``FinalReport``."""
    granted = tune.get_context().get_trial_resources().required_resources
    threads = max(1, int(granted.get("CPU", setup.cpus)))
    gpu_ids = list(ray.get_gpu_ids())
    device, note = pick_device(gpu_ids)
    placement = Placement(device, gpu_id_text(gpu_ids), float(threads), note)

    params = {k: v for k, v in config.items() if k != STUDY_TRIAL_KEY}
    family_config = setup.space.build_config(params)
    if data is None:
        if setup.cache_dir is None or setup.load_dataset is None:
            raise RuntimeError("the trial got neither a dataset nor a cache folder to map")
        data = setup.load_dataset(setup.cache_dir)

    def on_epoch(m: EpochMetrics) -> None:
        tune.report(EpochReport.of(m, placement).to_result())

    ctx = TrainContext(
        seed=setup.seed,
        threads=threads,
        device=device,
        on_epoch=on_epoch,
        deadline=setup.deadline,
    )
    fit = setup.family.fit(family_config, data, ctx)
    tune.report(FinalReport.of(fit, data.schema.labels, placement).to_result())
