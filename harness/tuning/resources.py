"""What each trial asks Ray for, decided from what the cluster has, and the device it picks.

Ray waits forever for a GPU the cluster lacks, so a trial asks for GPUs only when the cluster
has some. Inside a trial the device is ``"cuda"`` only when Ray granted GPU ids *and* torch sees
CUDA; threads are the CPUs granted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError

__all__ = ["ResourcePlan", "gpu_id_text", "pick_device", "plan_resources"]


@dataclass(frozen=True)
class ResourcePlan:
    """What each trial asks Ray for, decided from what the cluster has."""

    cpus_per_trial: float
    gpus_per_trial: float
    max_concurrent_trials: int
    notes: tuple[str, ...] = ()


def plan_resources(
    cluster: Mapping[str, float],
    *,
    cpus_per_trial: float,
    gpus_per_trial: float,
    num_samples: int,
    max_concurrent_trials: int | None = None,
) -> ResourcePlan:
    """Per-trial resources and concurrency that the cluster can actually satisfy.

    Args:
        cluster: ``ray.cluster_resources()``.
        cpus_per_trial: CPUs (training threads) per trial.
        gpus_per_trial: GPUs (or a fraction) per trial when the cluster has GPUs.
        num_samples: trials in the run (no point running more at once).
        max_concurrent_trials: an upper bound chosen by the user, if any.

    Raises:
        HarnessError: a trial would need more CPUs or GPUs than the cluster has (Ray would wait
            forever).
    """
    cpus = float(cluster.get("CPU", 0.0))
    gpus = float(cluster.get("GPU", 0.0))
    if cpus_per_trial <= 0:
        raise HarnessError(f"cpus per trial must be positive, got {cpus_per_trial}")
    if gpus_per_trial < 0:
        raise HarnessError(f"gpus per trial must be >= 0, got {gpus_per_trial}")
    if cpus_per_trial > cpus:
        raise HarnessError(
            f"a trial asks for {cpus_per_trial:g} CPUs but the Ray cluster has {cpus:g}; "
            "lower --cpus-per-trial"
        )
    notes: list[str] = []
    if gpus_per_trial > 0 and gpus == 0:
        notes.append(f"asked for {gpus_per_trial:g} GPU per trial but the Ray cluster has none")
        gpus_per_trial = 0.0
    if gpus_per_trial > gpus:
        raise HarnessError(
            f"a trial asks for {gpus_per_trial:g} GPUs but the Ray cluster has {gpus:g}; "
            "lower --gpus-per-trial"
        )
    fit = int(cpus // cpus_per_trial)
    if gpus_per_trial > 0:
        fit = min(fit, int(gpus / gpus_per_trial + 1e-9))
    limit = max(1, min(fit, num_samples))
    if max_concurrent_trials is not None:
        limit = max(1, min(limit, max_concurrent_trials))
    return ResourcePlan(cpus_per_trial, gpus_per_trial, limit, tuple(notes))


def pick_device(gpu_ids: list[Any]) -> tuple[str, str]:
    """``("cuda", "")`` when Ray granted GPUs and torch sees CUDA, else ``("cpu", note)``."""
    if not gpu_ids:
        return "cpu", ""
    try:
        import torch

        if torch.cuda.is_available():
            return "cuda", ""
    except ImportError:
        pass
    return (
        "cpu",
        f"granted GPU ids {gpu_id_text(gpu_ids)} but torch sees no CUDA device: ran on cpu",
    )


def gpu_id_text(gpu_ids: list[Any]) -> str:
    return ",".join(str(i) for i in gpu_ids)
