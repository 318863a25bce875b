"""A local Ray cluster of two CPUs, shared by a test module and shut down after it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """Two worker CPUs on this machine (never `ray stop`: other people's Ray would go too)."""
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
        )
    try:
        yield
    finally:
        if started:
            ray.shutdown()
