"""Derived features: one column computed from another (Avazu's ``hour`` into hour and weekday).

A card names them (``[derived.weekday] from = "hour", op = "yymmddhh_weekday"``); a new op is
one entry in ``DERIVATIONS``. Each op maps an integer column to an integer one, null where the
source is null.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import polars as pl

__all__ = ["DERIVATIONS", "Derivation"]


@dataclass(frozen=True)
class Derivation:
    """How a derived feature is computed from its source column, and its default role."""

    description: str
    role: Literal["numeric", "categorical"]
    expr: Callable[[pl.Expr], pl.Expr]


def _yymmddhh_date(v: pl.Expr) -> pl.Expr:
    return pl.date(2000 + v // 1_000_000, (v // 10_000) % 100, (v // 100) % 100)


DERIVATIONS: MappingProxyType[str, Derivation] = MappingProxyType(
    {
        "yymmddhh_hour": Derivation(
            "hour of day (0-23) of a YYMMDDHH integer (Avazu's hour)",
            "categorical",
            lambda v: v % 100,
        ),
        "yymmddhh_weekday": Derivation(
            "day of the week (1 Monday .. 7 Sunday) of a YYMMDDHH integer",
            "categorical",
            lambda v: _yymmddhh_date(v).dt.weekday().cast(pl.Int64),
        ),
        "unix_hour": Derivation(
            "hour of day (0-23, UTC) of a Unix time in seconds",
            "categorical",
            lambda v: (v // 3600) % 24,
        ),
        "unix_weekday": Derivation(
            "day of the week (1 Monday .. 7 Sunday, UTC) of a Unix time in seconds",
            "categorical",
            # 1970-01-01 was a Thursday (ISO weekday 4).
            lambda v: (v // 86_400 + 3) % 7 + 1,
        ),
    }
)
