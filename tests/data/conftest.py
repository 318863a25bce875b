"""Builders for small raw Criteo files written by hand (exact values known)."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

N_INT, N_CAT = 13, 26

# A Criteo line is built from the label plus the fields that differ from the defaults.
LineBuilder = Callable[..., str]
FileWriter = Callable[..., Path]


def _line(
    label: str = "0",
    ints: Mapping[int, str] | None = None,
    cats: Mapping[int, str] | None = None,
    *,
    int_default: str = "0",
    cat_default: str = "",
) -> str:
    """One raw line: ``ints``/``cats`` map 1-based field numbers (I1 = 1, C1 = 1) to text."""
    ints = ints or {}
    cats = cats or {}
    fields = [label]
    fields += [ints.get(i, int_default) for i in range(1, N_INT + 1)]
    fields += [cats.get(i, cat_default) for i in range(1, N_CAT + 1)]
    return "\t".join(fields) + "\n"


@pytest.fixture
def criteo_line() -> LineBuilder:
    """``criteo_line(label, ints={1: "5"}, cats={1: "0000000a"})`` -> one line with newline."""
    return _line


@pytest.fixture
def write_criteo(tmp_path: Path) -> FileWriter:
    """``write_criteo(lines, name="train.txt", gz=False)`` -> the path of a raw file."""

    def write(lines: Sequence[str], name: str = "train.txt", gz: bool = False) -> Path:
        data = "".join(lines).encode()
        path = tmp_path / name
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        return path

    return write
