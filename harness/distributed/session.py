"""Starting or joining Ray for a block of work (shared by distributed preprocessing and tuning).

``ray_session`` joins an existing cluster (``address``) or starts a quiet local one, and shuts
down only what it started. Ray is imported only in `harness.distributed` and the tuner's
modules (`harness.tuning.tuner` and the parts it runs); see the package docstring.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ray

from harness.distributed.reaper import children_of, start_reaper
from harness.errors import HarnessError

__all__ = ["ClusterResources", "ray_session"]

_GiB = 1 << 30


def _object_store_bytes() -> int:
    """A modest object store: min(2 GiB, 10% of RAM), never below Ray's ~75 MiB minimum."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 16 * _GiB
    return max(100 << 20, min(2 * _GiB, ram // 10))


def _init_ray(address: str | None, num_cpus: int | None, num_gpus: int | None) -> None:
    """Starts a quiet local Ray (or joins ``address``)."""
    # NOTE: Ray 2.60 turns token authentication on by default for a local cluster and writes a
    # token to ~/.ray/auth_token itself when there is none, so a local run needs no setup.
    # Its "token authentication is enabled" warning is why the log level is ERROR.
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "ignore_reinit_error": True,
        "logging_level": logging.ERROR,
        "log_to_driver": False,
    }
    try:
        if address is not None:
            ray.init(address=address, **kwargs)
        else:
            ray.init(
                num_cpus=num_cpus,
                num_gpus=num_gpus,
                object_store_memory=_object_store_bytes(),
                **kwargs,
            )
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise HarnessError(f"could not start {where}: {' '.join(str(e).split())}") from None


@dataclass(frozen=True)
class ClusterResources:
    """What the Ray cluster offers, as Ray sees it."""

    cpus: float
    gpus: float


def _cluster() -> ClusterResources:
    seen = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return ClusterResources(float(seen.get("CPU", 0.0)), float(seen.get("GPU", 0.0)))


@contextlib.contextmanager
def ray_session(
    address: str | None = None, *, num_cpus: int | None = None, num_gpus: int | None = None
) -> Iterator[ClusterResources]:
    """Ray for the duration of a ``with`` block: joins ``address`` or starts a quiet local cluster.

    A Ray already initialised in this process is used as it is and left running; one started
    here is shut down on leaving the block (also on an error or Ctrl-C), and its processes are
    killed by a watcher if this process dies without shutting it down (``kill -9``).

    Args:
        address: an existing cluster (``"auto"``, ``"host:6379"``, ``"ray://host:10001"``); None
            starts a local one.
        num_cpus: CPUs of a local cluster (default: all).
        num_gpus: GPUs of a local cluster (default: those Ray detects).

    Yields:
        The cluster's CPUs and GPUs.
    """
    if ray.is_initialized():
        yield _cluster()
        return
    _init_ray(address, num_cpus, num_gpus)
    reaper = None
    try:
        if address is None:
            reaper = _reaper()
        yield _cluster()
    finally:
        ray.shutdown()
        if reaper is not None and reaper.stdin is not None:
            reaper.stdin.close()  # the watcher kills what the shutdown left, then exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                reaper.wait(timeout=10)


def _reaper() -> subprocess.Popen[bytes] | None:
    """A watcher that ends this local Ray's processes when this process ends (see `reaper`)."""
    try:
        node: Any = ray._private.worker._global_node  # no public handle on Ray's processes
        pids = [p.process.pid for infos in node.all_processes.values() for p in infos if p.process]
        return start_reaper([*pids, *children_of(pids)])
    except Exception:  # a Ray without these internals: a killed run leaves its agents a while
        return None
