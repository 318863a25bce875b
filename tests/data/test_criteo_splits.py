"""Split protocols: exact sizes, proportions, determinism, streaming (chunk) independence."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data.splits import SPLIT_PROTOCOLS, RandomSplit, SequentialSplit, get_protocol
from harness.errors import HarnessError


def test_registry_names() -> None:
    assert list(SPLIT_PROTOCOLS) == ["sequential", "x1", "x4", "time", "group", "last", "files"]
    assert get_protocol("x4").name == "x4"


def test_unknown_protocol_lists_valid_names() -> None:
    with pytest.raises(
        HarnessError, match=r"unknown split protocol 'x2'; valid: sequential, x1, x4, time"
    ):
        get_protocol("x2")


@pytest.mark.parametrize(
    ("n_rows", "sizes"),
    [(10_000, (8000, 1000, 1000)), (10, (8, 1, 1)), (6, (4, 1, 1)), (19, (15, 2, 2))],
)
def test_sequential_cuts_file_order_exactly(n_rows: int, sizes: tuple[int, int, int]) -> None:
    protocol = get_protocol("sequential")
    codes = protocol.assign(np.arange(n_rows), n_rows=n_rows, seed=0)
    assert protocol.sizes(n_rows, seed=0) == sizes
    assert tuple(np.bincount(codes, minlength=3)) == sizes
    # Train first, then valid, then test: the codes never decrease along the file.
    assert (np.diff(codes.astype(int)) >= 0).all()


@pytest.mark.parametrize(("name", "parts"), [("x1", (36, 9, 5)), ("x4", (8, 1, 1))])
def test_random_proportions(name: str, parts: tuple[int, int, int]) -> None:
    n = 200_000
    protocol = get_protocol(name)
    codes = protocol.assign(np.arange(n), n_rows=n, seed=3)
    shares = np.bincount(codes, minlength=3) / n
    # Binomial noise at n = 200k is about 0.001; 0.005 is a wide margin.
    np.testing.assert_allclose(shares, np.array(parts) / sum(parts), atol=0.005)
    assert protocol.sizes(n, seed=3) == tuple(np.bincount(codes, minlength=3))
    # Interleaved, not in file order: every split appears in the first 100 rows.
    assert set(codes[:100].tolist()) == {0, 1, 2}


@pytest.mark.parametrize("name", ["sequential", "x1", "x4"])
def test_assignment_depends_only_on_row_index(name: str) -> None:
    """Streaming: splitting a file block by block gives the same codes as all at once."""
    n = 50_000
    protocol = get_protocol(name)
    whole = protocol.assign(np.arange(n), n_rows=n, seed=7)
    pieces = [
        protocol.assign(np.arange(start, min(start + 4321, n)), n_rows=n, seed=7)
        for start in range(0, n, 4321)
    ]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    np.testing.assert_array_equal(protocol.assign(np.arange(n), n_rows=n, seed=7), whole)
    assert whole.dtype == np.uint8
    assert set(np.unique(whole).tolist()) == {0, 1, 2}  # each row in exactly one split


def test_random_seed_changes_assignment() -> None:
    protocol = get_protocol("x1")
    rows = np.arange(10_000)
    a = protocol.assign(rows, n_rows=10_000, seed=0)
    b = protocol.assign(rows, n_rows=10_000, seed=1)
    assert (a != b).mean() > 0.3
    # And the row count does not matter for random protocols (only the index does).
    np.testing.assert_array_equal(protocol.assign(rows, n_rows=10**9, seed=0), a)


def test_parts_are_validated() -> None:
    with pytest.raises(ValueError, match="parts"):
        RandomSplit("bad", (7, 0, 3))
    with pytest.raises(ValueError, match="parts"):
        SequentialSplit(parts=(8, 1))  # type: ignore[arg-type]


def test_descriptions() -> None:
    assert get_protocol("sequential").description.startswith("file order 80/10/10")
    assert get_protocol("x1").description.startswith("random 72/18/10")
