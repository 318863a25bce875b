"""The machine and software a run ran on, captured when each invocation starts.

`capture` reads the hardware (CPU model, logical cores, memory, GPUs), the versions of the
packages that decide the numbers, and the commit of the harness checkout, cheaply: package
versions come from installed metadata (nothing is imported), GPUs from ``nvidia-smi`` (so CUDA
is never initialised just to be described), and nothing here raises; what cannot be read is
left empty. ``run.json`` keeps one `Environment` per invocation, and the leaderboard header
prints `Environment.hardware_text` and `Environment.software_text`::

    env = capture()
    env.hardware_text  # 'AMD EPYC, 2 logical cores, 23.5 GiB memory, GPU: none'
    env.software_text  # 'harness 0.1.0 (commit 40160a1-dirty), Python 3.11.9 on Linux x86_64; ...'
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import Any

import harness

__all__ = ["PACKAGES", "Environment", "capture", "harness_commit"]

# Distributions whose versions can change a result, in the order the header lists them.
PACKAGES = ("torch", "lightgbm", "catboost", "ray", "optuna", "polars", "scikit-learn")
_TIMEOUT_S = 10.0  # for git and nvidia-smi: a hung tool must not hold up a run's start


@dataclass(frozen=True)
class Environment:
    """Where an invocation ran. Every field has an empty default: "not recorded".

    Attributes:
        cpu: the CPU model name (``/proc/cpuinfo``, else what `platform` knows).
        cpu_count: logical cores of the machine (``os.cpu_count()``).
        memory_gib: physical memory in GiB.
        gpus: the name of each GPU this process may use (``CUDA_VISIBLE_DEVICES`` applied);
            empty for none.
        system: operating system and architecture (``Linux 6.8.0 x86_64``).
        python: the Python version.
        packages: ``(distribution, version)`` for each of `PACKAGES`; version "" when it is
            not installed.
        harness: the harness package's version.
        commit: the harness checkout's short commit, ``-dirty`` when tracked files differ
            from it; "" when the package is not in a git checkout (or git is missing).
    """

    cpu: str = ""
    cpu_count: int = 0
    memory_gib: float = 0.0
    gpus: tuple[str, ...] = ()
    system: str = ""
    python: str = ""
    packages: tuple[tuple[str, str], ...] = ()
    harness: str = ""
    commit: str = ""

    def __post_init__(self) -> None:
        for name in ("cpu", "system", "python", "harness", "commit"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string, got {getattr(self, name)!r}")
        if not isinstance(self.cpu_count, int) or isinstance(self.cpu_count, bool):
            raise ValueError(f"cpu_count must be an integer, got {self.cpu_count=}")
        if self.cpu_count < 0:
            raise ValueError(f"cpu_count must be >= 0, got {self.cpu_count=}")
        if not isinstance(self.memory_gib, int | float) or not self.memory_gib >= 0:
            raise ValueError(f"memory_gib must be a number >= 0, got {self.memory_gib=}")
        if not all(isinstance(g, str) for g in self.gpus):
            raise ValueError(f"gpus must be names, got {self.gpus=}")
        if not all(len(p) == 2 and all(isinstance(s, str) for s in p) for p in self.packages):
            raise ValueError(f"packages must be (name, version) pairs, got {self.packages=}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Environment:
        """The environment ``dataclasses.asdict`` wrote (lists back to tuples; keys this
        version does not know are dropped, missing ones take their defaults).

        Raises:
            TypeError, ValueError: a field of the wrong shape.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"an environment is a JSON object, got {data!r}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "gpus" in values:
            values["gpus"] = tuple(values["gpus"])
        if "packages" in values:
            values["packages"] = tuple(tuple(p) for p in values["packages"])
        return cls(**values)

    def version(self, package: str) -> str:
        """The recorded version of ``package`` ("" when not installed or not recorded)."""
        return dict(self.packages).get(package, "")

    @property
    def gpu_text(self) -> str:
        """``none``, ``NVIDIA H200`` or ``8 × NVIDIA H200`` (several models: each counted)."""
        if not self.gpus:
            return "none"
        counts = Counter(self.gpus)
        return ", ".join(name if n == 1 else f"{n} × {name}" for name, n in counts.items())

    @property
    def hardware_text(self) -> str:
        """One line for a leaderboard header: CPU, cores, memory and GPUs."""
        memory = f"{self.memory_gib:.0f}" if self.memory_gib >= 100 else f"{self.memory_gib:.1f}"
        return (
            f"{self.cpu or 'unknown CPU'}, {self.cpu_count or '?'} logical cores, "
            f"{memory} GiB memory, GPU: {self.gpu_text}"
        )

    @property
    def software_text(self) -> str:
        """One line for a leaderboard header: harness version and commit, Python, packages."""
        commit = f" (commit {self.commit})" if self.commit else ""
        versions = ", ".join(
            f"{name} {version}" if version else f"{name} not installed"
            for name, version in self.packages
        )
        where = f" on {self.system}" if self.system else ""
        head = f"harness {self.harness or '?'}{commit}, Python {self.python or '?'}{where}"
        return f"{head}; {versions}" if versions else head


def capture() -> Environment:
    """The environment of this process now (never raises; unreadable parts are empty)."""
    return Environment(
        cpu=_cpu_model(),
        cpu_count=os.cpu_count() or 0,
        memory_gib=_memory_gib(),
        gpus=_gpus(),
        system=" ".join(
            p for p in (platform.system(), platform.release(), platform.machine()) if p
        ),
        python=platform.python_version(),
        packages=tuple((name, _version(name)) for name in PACKAGES),
        harness=harness.__version__,
        commit=harness_commit(),
    )


def harness_commit(folder: Path | None = None) -> str:
    """The short commit of the git checkout holding ``folder`` (default: the harness package),
    with ``-dirty`` when tracked files differ from it (the boards in ``leaderboards/``, which
    runs rewrite, aside).

    "" when the folder's files are not tracked by a checkout (an installed copy, even one
    inside another repository's ignored ``.venv``), or git is missing or fails.
    """
    folder = Path(harness.__file__).resolve().parent if folder is None else folder
    # No optional locks: `git status` would otherwise refresh the index of a checkout that
    # other processes may be writing to.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args],
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_S,
                env=env,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    tracked = git("ls-files", "--", ".")
    if not tracked:  # not a checkout, or none of the folder's files belong to it
        return ""
    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return ""
    # leaderboards/ holds what runs write: a board rewritten in place is not a code change.
    changes = git(
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ":(top)",
        ":(top,exclude)leaderboards",
    )
    return f"{head}-dirty" if changes else head


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for key in ("model name", "Hardware", "Processor", "cpu model", "cpu"):
        for line in text.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or platform.machine()


def _memory_gib() -> float:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 0.0
    return round(pages * size / 2**30, 1) if pages > 0 and size > 0 else 0.0


def _gpus() -> tuple[str, ...]:
    """The names of the GPUs this process may use.

    ``nvidia-smi`` answers without initialising CUDA in this process. Without it, torch is
    asked only when something already imported it: importing torch, or initialising CUDA in
    a process that will not use it, is too high a price for a line in a header.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return ()
    listed = _nvidia_smi()
    if listed is not None:
        return _visible(listed, visible)
    torch = sys.modules.get("torch")
    if torch is None:
        return ()
    try:
        if not torch.cuda.is_available():
            return ()
        return tuple(str(torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count()))
    except Exception:  # a broken driver is no reason to fail a run's start
        return ()


def _nvidia_smi() -> list[tuple[str, str, str]] | None:
    """``(index, uuid, name)`` of every GPU of the machine, or None when nvidia-smi is absent
    or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "--query-gpu=index,uuid,name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    out = []
    for line in done.stdout.splitlines():
        parts = [p.strip() for p in line.split(",", 2)]
        if len(parts) == 3 and parts[2]:
            out.append((parts[0], parts[1], parts[2]))
    return out


def _visible(gpus: list[tuple[str, str, str]], visible: str | None) -> tuple[str, ...]:
    """The names of ``gpus`` that ``CUDA_VISIBLE_DEVICES`` leaves, in its order.

    Indexes and ``GPU-`` UUID prefixes are mapped; anything else (MIG instances) keeps every
    GPU, since the parent cards are still what the run used.
    """
    if visible is None:
        return tuple(name for _, _, name in gpus)
    out = []
    for entry in (e.strip() for e in visible.split(",")):
        if entry.isdigit():
            match = [name for index, _, name in gpus if index == entry]
        elif entry.startswith("GPU-"):
            match = [name for _, uuid, name in gpus if uuid.startswith(entry)]
        else:
            return tuple(name for _, _, name in gpus)
        if not match:  # CUDA ignores the entries from the first one it cannot place
            break
        out += match[:1]
    return tuple(out)
