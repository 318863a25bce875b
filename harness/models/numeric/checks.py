"""Checks of numeric encoding config fields; each message names the field and its bad value."""

from __future__ import annotations

import math

__all__ = ["check_bool", "check_clip", "check_int", "check_positive"]


def check_bool(name: str, value: object) -> None:
    """A flag must be a real bool (TOML ``true``), not ``"yes"`` or 1."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {name}={value!r}")


def check_int(name: str, value: object, *, low: int) -> None:
    """An integer at least ``low`` (a bool is not an integer here)."""
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= low):
        raise ValueError(f"{name} must be an integer >= {low}, got {name}={value!r}")


def check_positive(name: str, value: object) -> None:
    """A finite number above 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive number, got {name}={value!r}")


def check_clip(clip: object) -> None:
    """A share of rows in ``[0, 0.5)`` clipped in each tail (0 clamps to the training range)."""
    if isinstance(clip, bool) or not isinstance(clip, int | float) or not 0.0 <= clip < 0.5:
        raise ValueError(f"clip must be a share of rows in [0, 0.5), got {clip=}")
