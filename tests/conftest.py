"""Shared fixtures: an isolated harness home, the repository root, the real data (if present)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


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
