"""A run's folder: where its outputs go, who is using it, and what earlier invocations did.

``<out>/runs/<label>/`` holds the results table, the Optuna studies, Ray's trial folders,
``run.json`` (the invocations, each with the machine and software it ran on, and the time each
model has spent so far) and ``teachers/`` (distillation's teacher scores); the leaderboard is
``<out>/leaderboards/<label>.md``. ``RunLock`` lets one run at a time use the folder (a second
one refuses in one line; the lock dies with its process, even on ``kill -9``). A folder that
already holds results is continued with ``--resume`` or moved aside with ``--fresh``, never
silently mixed with a new run; a factor study (``--study``) is an addition to it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.atomic import write_text_atomic
from harness.environment import Environment, capture
from harness.errors import HarnessError
from harness.urls import is_url

__all__ = [
    "Invocation",
    "RunLock",
    "RunPaths",
    "RunState",
    "check_storage_path",
    "check_writable",
    "move_aside",
]


@dataclass(frozen=True)
class RunPaths:
    """Where a suite's outputs go: ``<out>/leaderboards/<label>.md`` and ``<out>/runs/<label>/``."""

    label: str
    leaderboard: Path
    results: Path
    studies: Path
    run_dir: Path

    @classmethod
    def of(cls, out: Path, suite: str, synthetic: bool) -> RunPaths:
        label = f"{suite}-synthetic" if synthetic else suite
        run_dir = out / "runs" / label
        return cls(
            label=label,
            leaderboard=out / "leaderboards" / f"{label}.md",
            results=run_dir / "results.parquet",
            studies=run_dir / "studies.sqlite3",
            run_dir=run_dir,
        )

    @property
    def state(self) -> Path:
        return self.run_dir / "run.json"

    @property
    def predictions(self) -> Path:
        """The repeat stage's test predictions (``<trial id>.npy``) and ``TEST_LABELS``."""
        return self.run_dir / "predictions"

    @property
    def teachers(self) -> Path:
        """Teachers' scores of the training rows for distillation (``<teacher>.npy`` and
        ``<teacher>.json``, `harness.teachers`)."""
        return self.run_dir / "teachers"

    @property
    def info(self) -> Path:
        """What the leaderboard's header says of the data and the run (rebuilt from it)."""
        return self.run_dir / "info.json"

    @property
    def plot(self) -> Path:
        """The plot of the search beside the leaderboard."""
        return self.leaderboard.with_name(f"{self.label}-search.png")

    @property
    def lock(self) -> Path:
        # Beside the folder, not in it: ``--fresh`` moves the folder while holding the lock.
        return self.run_dir.parent / f".{self.label}.lock"

    def has_results(self) -> bool:
        return self.results.exists() or self.studies.exists()


def check_writable(*folders: Path, fix: str = "pass --out to a folder you can write to") -> None:
    """Creates the folders and checks that a file can be written in each, before any work.

    Raises:
        HarnessError: one line naming the folder and what to do (``fix``).
    """
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
                pass
        except OSError as e:
            raise HarnessError(f"cannot write to {folder} ({e.strerror or e}); {fix}") from None


def check_storage_path(storage_path: str | None) -> None:
    """``--storage-path``: a local folder for Ray Tune's experiment state is created and checked
    like the run folder; a URI (``s3://...``) is left to Ray.

    Raises:
        HarnessError: one line naming the folder, when it cannot be written.
    """
    if storage_path is None or is_url(storage_path):
        return
    check_writable(
        Path(storage_path).expanduser(),
        fix="pass --storage-path a folder you can write to (on a cluster, one every node "
        "reaches) or a URI such as s3://bucket/path",
    )


class RunLock:
    """An exclusive, non-blocking lock on a run folder for the life of this process."""

    def __init__(self, paths: RunPaths) -> None:
        self._paths = paths
        self._file: int | None = None

    def __enter__(self) -> RunLock:
        path = self._paths.lock
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise HarnessError(
                f"another harness run ({holder}) is using {self._paths.run_dir}; wait for it to "
                "finish, or pass --out OTHER_FOLDER to run beside it"
            ) from None
        except OSError as e:
            os.close(fd)
            raise HarnessError(
                f"cannot lock {path} ({e.strerror or e}): its filesystem has no file locks; "
                "pass --out on a local disk"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}, since {_now()}".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._file = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._file, 0)
            os.close(self._file)  # closing releases the lock
            self._file = None


@dataclass(frozen=True)
class Invocation:
    """One ``harness run`` on the folder: its command line, when, how it ended, the machine
    and software it ran on (``environment``; None in a ``run.json`` written before it was
    recorded), and whether it ran factor studies (``--study``) rather than the search."""

    command: str
    started_at: str
    ended_at: str = ""
    outcome: str = "running"  # running (or killed), finished, interrupted, failed
    environment: Environment | None = None
    study: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Invocation:
        """The invocation ``dataclasses.asdict`` wrote.

        Raises:
            TypeError, ValueError: not an invocation.
        """
        env = data.get("environment")
        data = {**data, "environment": None if env is None else Environment.from_json(env)}
        if "study" not in data:  # written before it was recorded: the command line says
            data["study"] = "--study" in str(data.get("command", "")).split()
        return cls(**data)


@dataclass(frozen=True)
class RunState:
    """``run.json``: what the folder's invocations did, for ``--resume`` and the leaderboard.

    ``spent_s`` is each model's tuning wall time summed over invocations (saved after every
    trial, so a killed run loses at most one trial's worth); the time budget is shared by what
    the invocations together spend. ``study_spent_s`` is each factor study's wall time
    (``--study``): a study has a budget of its own per invocation and never spends the search's.
    """

    dataset_id: str
    time_budget_s: float
    trials_per_model: int
    spent_s: dict[str, float] = field(default_factory=dict)
    invocations: tuple[Invocation, ...] = ()
    study_spent_s: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> RunState | None:
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            data["invocations"] = tuple(
                Invocation.from_json(i) for i in data.get("invocations", ())
            )
            return cls(**data)
        except (ValueError, TypeError) as e:
            raise HarnessError(f"{path} is not a harness run state ({e}); use --fresh") from None

    def save(self, path: Path) -> None:
        write_text_atomic(path, json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @property
    def spent_total(self) -> float:
        return sum(self.spent_s.values())

    @property
    def search_invocations(self) -> int:
        """The invocations that ran the search (several: it was resumed), studies left out."""
        return sum(not i.study for i in self.invocations)

    def started(
        self, command: str, environment: Environment | None = None, *, study: bool = False
    ) -> RunState:
        """A new invocation, running ``command`` in ``environment`` (None: `capture` it now);
        ``study``: it runs factor studies, not the search."""
        env = capture() if environment is None else environment
        invocation = Invocation(command, _now(), environment=env, study=study)
        return dataclasses.replace(self, invocations=(*self.invocations, invocation))

    def ended(self, outcome: str) -> RunState:
        last = dataclasses.replace(self.invocations[-1], ended_at=_now(), outcome=outcome)
        return dataclasses.replace(self, invocations=(*self.invocations[:-1], last))

    def spent(self, model: str, seconds: float) -> RunState:
        spent = dict(self.spent_s)
        spent[model] = spent.get(model, 0.0) + seconds
        return dataclasses.replace(self, spent_s=spent)

    def study_spent(self, study: str, seconds: float) -> RunState:
        spent = dict(self.study_spent_s)
        spent[study] = spent.get(study, 0.0) + seconds
        return dataclasses.replace(self, study_spent_s=spent)


def move_aside(paths: RunPaths) -> Path:
    """``--fresh``: moves the run folder to ``<label>-<UTC time>`` beside it, its leaderboard
    into it (nothing is deleted)."""
    stamp = f"{paths.label}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    target = paths.run_dir.with_name(stamp)
    n = 1
    while target.exists():
        n += 1
        target = paths.run_dir.with_name(f"{stamp}-{n}")
    paths.run_dir.rename(target)
    if paths.leaderboard.exists():
        paths.leaderboard.rename(target / paths.leaderboard.name)
    return target


def _now() -> str:
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
