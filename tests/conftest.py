"""Shared fixtures: an isolated harness home, the repository root, real data, day files, caches,
a PostgreSQL server."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.shared import REPO, SHARED_DATA

if TYPE_CHECKING:
    from tests.postgres import PostgresServer


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """torch on one thread for the test (restored after): on tiny matrices a second thread only
    adds contention on a busy 2-core machine. Modules use it with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def harness_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private $HARNESS_HOME (cache, downloads) and no $HARNESS_DATA_DIR."""
    home = tmp_path / "harness-home"
    monkeypatch.setenv("HARNESS_HOME", str(home))
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    return home


@pytest.fixture
def shared_file() -> Callable[[str], Path]:
    """Finds a file under ../shared/data, or skips the test saying why it is not there."""

    def find(relative: str) -> Path:
        path = SHARED_DATA / relative
        if not path.is_file():
            pytest.skip(f"real data absent: no {path} (../shared is not beside the repository)")
        return path

    return find


DayWriter = Callable[..., list[Path]]


@pytest.fixture
def write_days(tmp_path: Path) -> DayWriter:
    """``write_days(rows=[600, 900], gz={1}, folder=None)`` -> synthetic day files day_0, day_1 ...

    Each day has its own seed and row count; the days in ``gz`` are gzipped (``day_<i>.gz``).
    """
    from harness.data.synthetic import write_synthetic_criteo

    def write(
        rows: Sequence[int], gz: Collection[int] = (), folder: Path | None = None
    ) -> list[Path]:
        folder = folder or tmp_path / "days"
        folder.mkdir(parents=True, exist_ok=True)
        return [
            write_synthetic_criteo(
                folder / (f"day_{day}.gz" if day in gz else f"day_{day}"),
                n,
                seed=100 + day,
                compress=day in gz,
            )
            for day, n in enumerate(rows)
        ]

    return write


@pytest.fixture
def cache_contents() -> Callable[[str | None], dict[str, bytes]]:
    """Every file of a prepared cache folder but meta.json (timings, sources) -> its bytes."""

    def read(cache_dir: str | None) -> dict[str, bytes]:
        assert cache_dir is not None
        root = Path(cache_dir)
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "meta.json"
        }

    return read


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1 for the session (`tests.postgres`), stopped at the
    end; skips the test, saying why, where none can start (no binaries, no user to run it)."""
    from tests.postgres import PostgresUnavailableError, running_postgres

    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(running_postgres())
        except PostgresUnavailableError as e:
            pytest.skip(f"no PostgreSQL server: {e}")
        yield server
