"""Derived features: one column computed from another (Avazu's ``hour`` into hour and weekday).

A card names them (``[derived.weekday] from = "hour", op = "yymmddhh_weekday"``); a new op is
one entry in ``DERIVATIONS``. Each op maps an integer column to an integer one, null where the
source is null or not a valid value of its kind (a YYMMDDHH of 14133100 has no weekday).
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


def _valid_yymmddhh(v: pl.Expr) -> pl.Expr:
    """Whether each YYMMDDHH value is a real date and hour (20YY)."""
    year, month, day, hour = 2000 + v // 1_000_000, (v // 10_000) % 100, (v // 100) % 100, v % 100
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days_in_month = (
        pl.when(month == 2)
        .then(pl.when(leap).then(29).otherwise(28))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )
    return (
        (v >= 0)
        & (v < 100_000_000)
        & month.is_between(1, 12)
        & (day >= 1)
        & (day <= days_in_month)
        & (hour <= 23)
    )


def _yymmddhh_weekday(v: pl.Expr) -> pl.Expr:
    """ISO weekday by integer arithmetic (days from 1970-01-01, as in Hinnant's
    ``days_from_civil``), null where the value is not a real date: one bad value must not stop
    the whole read, as a date constructor would."""
    month, day = (v // 10_000) % 100, (v // 100) % 100
    year = 2000 + v // 1_000_000 - (month <= 2).cast(pl.Int64)  # years from March
    era_year = year % 400
    day_of_year = (153 * (month + pl.when(month > 2).then(-3).otherwise(9)) + 2) // 5 + day - 1
    day_of_era = era_year * 365 + era_year // 4 - era_year // 100 + day_of_year
    days = (year // 400) * 146_097 + day_of_era - 719_468
    return pl.when(_valid_yymmddhh(v)).then((days + 3) % 7 + 1)


DERIVATIONS: MappingProxyType[str, Derivation] = MappingProxyType(
    {
        "yymmddhh_hour": Derivation(
            "hour of day (0-23) of a YYMMDDHH integer (Avazu's hour)",
            "categorical",
            lambda v: pl.when(_valid_yymmddhh(v)).then(v % 100),
        ),
        "yymmddhh_weekday": Derivation(
            "day of the week (1 Monday .. 7 Sunday) of a YYMMDDHH integer",
            "categorical",
            _yymmddhh_weekday,
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
