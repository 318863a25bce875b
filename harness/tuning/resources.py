"""What each trial asks Ray for, decided from what the cluster has, and the device it picks.

Ray waits forever for a GPU the cluster lacks, so the plan never asks for one the cluster does
not have: a GPU request the user made explicitly (``--gpus-per-trial``) is a one-line error
before any trial, the default one becomes a note and the trials run on CPU.

Inside a trial Ray restricts ``CUDA_VISIBLE_DEVICES`` to the GPU ids it granted, so the trial's
device is ``cuda:<k>`` with k the first granted id's place in that visible set (``cuda:0``
normally; trials given fractions of one GPU share it). A trial granted GPUs where torch sees no
CUDA (logical GPUs, a CPU build of torch) runs on CPU with a note naming the ids it was granted.
Its CPU threads are the CPUs it holds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError

__all__ = ["ResourcePlan", "gpu_id_text", "pick_device", "plan_resources", "trial_threads"]


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
    gpus_explicit: bool = False,
) -> ResourcePlan:
    """Per-trial resources and concurrency that the cluster can actually satisfy.

    Args:
        cluster: ``ray.cluster_resources()``.
        cpus_per_trial: CPUs (training threads) per trial.
        gpus_per_trial: GPUs (or a fraction) per trial when the cluster has GPUs.
        num_samples: trials in the run (no point running more at once).
        max_concurrent_trials: an upper bound chosen by the user, if any.
        gpus_explicit: the user asked for ``gpus_per_trial`` (``--gpus-per-trial``): a cluster
            without GPUs is an error rather than a note and a run on CPU.

    Raises:
        HarnessError: a trial would need more CPUs or GPUs than the cluster has (Ray would wait
            forever), or GPUs were asked for explicitly on a cluster that has none.
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
        if gpus_explicit:
            raise HarnessError(
                f"--gpus-per-trial {gpus_per_trial:g} asks for {gpus_per_trial:g} GPU per trial "
                f"but the Ray cluster has no GPU (CPU: {cpus:g}); drop --gpus-per-trial to train "
                "on CPU, or join a cluster with GPUs (--address)"
            )
        notes.append(f"asked for {gpus_per_trial:g} GPU per trial but the Ray cluster has none")
        gpus_per_trial = 0.0
    if gpus_per_trial > gpus:
        raise HarnessError(
            f"a trial asks for {gpus_per_trial:g} GPUs but the Ray cluster has {gpus:g}; "
            "lower --gpus-per-trial, or join a cluster with more GPUs (--address)"
        )
    fit = int(cpus // cpus_per_trial)
    if gpus_per_trial > 0:
        fit = min(fit, int(gpus / gpus_per_trial + 1e-9))
    limit = max(1, min(fit, num_samples))
    if max_concurrent_trials is not None:
        limit = max(1, min(limit, max_concurrent_trials))
    return ResourcePlan(cpus_per_trial, gpus_per_trial, limit, tuple(notes))


def trial_threads(cpus: float) -> int:
    """The CPU threads of a trial holding ``cpus`` CPUs (at least one; a fraction rounds down)."""
    return max(1, int(cpus))


def pick_device(
    gpu_ids: Sequence[Any],
    *,
    env: Mapping[str, str] | None = None,
    cuda_devices: int | None = None,
) -> tuple[str, str]:
    """The torch device of a trial granted ``gpu_ids`` (``ray.get_gpu_ids()``), and a note.

    Args:
        gpu_ids: the GPU ids Ray granted the trial (empty: none, the device is ``"cpu"``).
        env: the trial's environment (default ``os.environ``), for ``CUDA_VISIBLE_DEVICES``.
        cuda_devices: the CUDA devices torch sees (default: asks torch; 0 without CUDA).

    Returns:
        ``("cuda:<k>", "")`` with k the first granted id's place among the visible devices (Ray
        makes the granted ids the visible set, so k is 0 unless Ray was told not to set it);
        ``("cpu", note)`` when torch sees no CUDA device; ``("cpu", "")`` without GPU ids.
    """
    if not gpu_ids:
        return "cpu", ""
    count = _cuda_device_count() if cuda_devices is None else cuda_devices
    granted = gpu_id_text(gpu_ids)
    if count < 1:
        return "cpu", f"granted GPU ids {granted} but torch sees no CUDA device: ran on cpu"
    first = str(gpu_ids[0])
    visible = (os.environ if env is None else env).get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        seen = [v.strip() for v in visible.split(",") if v.strip()]
        index = seen.index(first) if first in seen else None
    else:  # nothing restricts the devices: Ray's id is torch's device number
        index = int(first) if first.isdigit() else None
    if index is None or index >= count:
        return "cuda:0", (
            f"granted GPU ids {granted} but CUDA_VISIBLE_DEVICES={visible} with {count} CUDA "
            "device(s) does not place them: ran on cuda:0"
        )
    return f"cuda:{index}", ""


def _cuda_device_count() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def gpu_id_text(gpu_ids: Sequence[Any]) -> str:
    """The ids as a row's ``gpu_ids`` column keeps them (``"0,1"``)."""
    return ",".join(str(i) for i in gpu_ids)
