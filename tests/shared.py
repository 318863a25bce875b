"""Where the repository is, and the real data beside it (../shared/data, never committed)."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
