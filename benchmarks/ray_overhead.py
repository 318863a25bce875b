"""Ray Tune's overhead per trial: trials through `tune_model` against the same fits in-process.

A neural model with no searched parameter (a small DCN-v2: 26 fields x 16, 2 cross layers, MLP
256-128, batch 1024, a fixed number of epochs, no early stop) trains on synthetic Criteo-shaped
data (13 numeric with ~10% NaN, 26 categorical with 1,000 ids each) kept in a dataset cache
that every trial memory-maps, as `harness run` does. The same fit runs three ways:

- **direct**: ``family.fit`` called N times in this process (after one untimed warm-up fit);
- **tune_model**: one call of N trials, one at a time (``max_concurrent_trials=1``, one CPU
  each, so no trial competes with another), on a local Ray started once beforehand, with the
  results table written as in a real run; ASHA's first rung is out of reach, so every trial
  runs all its epochs, like the direct fits;
- **tune_arms**: the same N fits as one factor-study arm of N seeds (FIFO instead of ASHA).

Both reuse a trial's process for the next trial.

Overhead per trial = (Ray wall - direct wall) / N: everything Ray Tune and the tuner add
(the call's Tuner and Optuna study, a trial process with its imports, reports per epoch, rows
written). Each fit inside a trial writes its start and end, which splits the Ray wall into the
fits (a fit in a trial process against one in this process) and the gaps between them (a
per-call part before the first fit and after the last, a per-trial part between fits), free of
the fits' run-to-run noise. Ray's own start-up is measured apart: once per ``harness run``.

Two trial lengths: short trials of about two seconds, and trials near the trial length of the
default budget (the criteo suite: 1,800 s for 6 models of 12 trials, 25 s per trial one at a
time). Target (issue #9): overhead under 5% of the trial time at the default budget.

Run alone: ``.venv/bin/python -m benchmarks.ray_overhead``; writes
``benchmarks/results/ray_overhead.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import ray
import torch

from harness.data.cache import FORMAT_VERSION, load_encoded, write_json
from harness.data.schema import CategoricalFeature, EncodedDataset, FeatureSchema
from harness.data.stats import describe_numeric
from harness.distributed.session import ray_session
from harness.families.neural import NEURAL, NeuralConfig
from harness.fitting import FitResult, TrainContext
from harness.pipeline import load_cached
from harness.suites import SUITES
from harness.tuning.space import SearchSpace, load_search_space
from harness.tuning.tuner import ArmTrials, StudyArm, TuneOptions, tune_arms, tune_model

N_NUM, N_CAT, VOCAB = 13, 26, 1_000
ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "ray_overhead.md"

SPACE = """
family = "neural"
description = "a small DCN-v2 with every parameter fixed (ray_overhead benchmark)"
[model]
topology = "stacked"
[model.tokenizer]
embedding_dim = 16
numeric_tokens = "flat"
[model.tokenizer.numeric]
kind = "log1p"
[model.interaction]
kind = "cross"
[model.interaction.cross]
layers = 2
[model.backbone]
kind = "mlp"
[model.backbone.mlp]
dims = [256, 128]
[model.head]
kind = "linear"
[train]
batch_size = 1024
max_epochs = {epochs}
patience = {epochs}
"""


def default_trial_seconds() -> float:
    """The criteo suite's budget per trial when its trials run one at a time."""
    suite = SUITES["criteo"]
    return suite.time_budget_s / (len(suite.models) * suite.trials)


def write_cache(folder: Path, rows: int, seed: int) -> EncodedDataset:
    """Synthetic Criteo-shaped splits (train ``rows``, valid and test ``rows // 4``) in the
    dataset cache layout (`harness.data.cache`), memory-mapped back."""
    rng = np.random.default_rng(seed)
    sizes = {"train": rows, "valid": rows // 4, "test": rows // 4}
    arrays = {}
    for split, n in sizes.items():
        x_num = rng.lognormal(1.0, 2.0, size=(n, N_NUM)).astype(np.float32)
        x_num[rng.random((n, N_NUM)) < 0.1] = np.nan
        x_cat = rng.integers(2, VOCAB, size=(n, N_CAT), dtype=np.int32)
        # A planted signal, so the fits learn something: two fields and one numeric feature.
        logit = 0.8 * (x_cat[:, 0] % 7 - 3) / 3 - 0.6 * (x_cat[:, 1] % 5 - 2) / 2
        logit += 0.3 * np.nan_to_num(np.log1p(x_num[:, 0]) - 1.0)
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(logit - 1.0)))).astype(np.float32)[:, None]
        arrays[split] = (x_num, x_cat, y)
    train_cat = arrays["train"][1]
    schema = FeatureSchema(
        numeric=describe_numeric([f"I{i}" for i in range(N_NUM)], arrays["train"][0]),
        categorical=tuple(CategoricalFeature(f"C{j}", VOCAB) for j in range(N_CAT)),
    )
    (folder / "cat_counts").mkdir(parents=True)
    for j, feature in enumerate(schema.categorical):
        counts = np.bincount(train_cat[:, j], minlength=VOCAB).astype(np.int64)
        np.save(folder / "cat_counts" / f"{feature.name}.npy", counts)
    for split, (x_num, x_cat, y) in arrays.items():
        (folder / split).mkdir()
        for name, array in (("x_num", x_num), ("x_cat", x_cat), ("y", y)):
            np.save(folder / split / f"{name}.npy", array)
    (folder / "schema.json").write_text(schema.to_json())
    write_json(
        folder / "meta.json",
        {
            "format_version": FORMAT_VERSION,
            "name": "ray-overhead",
            "protocol": "random",
            "synthetic": True,
            "source": "benchmarks/ray_overhead.py",
            "skipped_rows": 0,
        },
    )
    return load_encoded(folder)


def space_with(folder: Path, epochs: int) -> SearchSpace:
    path = folder / f"dcn-{epochs}.toml"
    path.write_text(SPACE.replace("{epochs}", str(epochs)))
    return load_search_space(path)


def import_seconds() -> float:
    """Seconds a fresh Python process spends importing what a trial process imports (the
    trainable, the neural family, the cache loader), less a bare interpreter's start."""

    def run(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - t0

    bare = min(run("pass") for _ in range(2))
    modules = "import harness.tuning.trainable, harness.families.neural, harness.pipeline"
    return min(run(modules) for _ in range(2)) - bare


@dataclass  # not frozen: `Family`'s attributes are plain (settable) protocol members
class Stamped:
    """The neural family, writing each fit's start and end (``time.time()``) to ``log``: the
    Ray wall splits into the trials' fits and what lies outside them."""

    log: str
    name: str = "neural"
    kind: Literal["gbdt", "neural"] = "neural"
    config_type: type[Any] = NeuralConfig

    def fit(self, config: Any, data: EncodedDataset, ctx: TrainContext) -> FitResult:
        start = time.time()
        fit = NEURAL.fit(config, data, ctx)
        with open(self.log, "a") as f:
            f.write(json.dumps([start, time.time()]) + "\n")
        return fit

    def validate(self, config: Any, data: EncodedDataset) -> None:
        NEURAL.validate(config, data)


@dataclass(frozen=True)
class Timing:
    """One way of running N fits: the whole wall, and each fit's (start, end) in it."""

    path: str
    wall: float
    fits: tuple[tuple[float, float], ...]
    began: float = 0.0  # time.time() at the call (Ray paths)

    @property
    def fit_seconds(self) -> list[float]:
        return [end - start for start, end in self.fits]

    @property
    def gaps(self) -> list[float]:
        """Seconds before each fit began: since the call for the first, since the previous
        fit's end for the others (scheduling, a trial process, its imports, reports)."""
        ends = [self.began] + [end for _, end in self.fits[:-1]]
        return [start - end for (start, _), end in zip(self.fits, ends, strict=True)]

    @property
    def tail(self) -> float:
        """Seconds from the last fit's end to the call's return (its row, the Tuner's end)."""
        return self.began + self.wall - self.fits[-1][1]


@dataclass(frozen=True)
class Variant:
    """N fits of one model on one dataset: direct, through `tune_model`, through `tune_arms`."""

    label: str
    rows: int
    epochs: int
    trials: int
    direct: Timing
    ray: dict[str, Timing]

    @property
    def fit_s(self) -> float:
        """The mean direct fit: the trial time the overhead is a share of."""
        return self.direct.wall / self.trials

    def overhead(self, path: str) -> float:
        """Seconds Ray adds per trial: (Ray wall - direct wall) / N."""
        return (self.ray[path].wall - self.direct.wall) / self.trials

    def outside(self, path: str) -> float:
        """Seconds per trial outside the trials' fits (no fit-to-fit noise in it)."""
        t = self.ray[path]
        return (t.wall - sum(t.fit_seconds)) / self.trials

    def percent(self, path: str) -> float:
        return 100.0 * self.overhead(path) / self.fit_s


def direct_fits(space: SearchSpace, data: EncodedDataset, n: int) -> Timing:
    config = space.build_config({})
    fits = []
    for _ in range(n):
        start = time.time()
        NEURAL.fit(config, data, TrainContext(seed=0, threads=1, device="cpu"))
        fits.append((start, time.time()))
    return Timing("direct", sum(end - start for start, end in fits), tuple(fits))


def ray_fits(space: SearchSpace, data: EncodedDataset, n: int, work: Path, path: str) -> Timing:
    """``path``: ``"tune_model"`` (a search: ASHA) or ``"tune_arms"`` (one arm of ``n`` seeds:
    FIFO); both reuse trial processes."""
    options = TuneOptions(
        suite="bench",
        study_db=work / "studies.sqlite3",
        results_path=work / "results.parquet",
        num_samples=n,
        seed=0,
        cpus_per_trial=1,
        max_concurrent_trials=1,
        ray_dir=work / "ray",
        grace_period=1_000,  # ASHA stops nothing: every trial runs its epochs, as direct fits
        show_progress=False,
    )
    work.mkdir(parents=True)
    if __name__ != "__main__":  # imported: Ray's workers get `Stamped` by value, not by name
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]
    family = Stamped(str(work / "fits.jsonl"))
    began = time.time()
    t0 = time.perf_counter()
    if path == "tune_model":
        rows = tune_model(space, data, options, family=family, load_dataset=load_cached)
    else:
        arm = ArmTrials(space, StudyArm("overhead", "fixed"), tuple(range(n)))
        rows = tune_arms([arm], data, options, family=family, load_dataset=load_cached)
    wall = time.perf_counter() - t0
    if len(rows) != n or any(r.status != "complete" for r in rows):
        raise RuntimeError(f"expected {n} complete trials, got {[r.status for r in rows]}")
    lines = (work / "fits.jsonl").read_text().splitlines()
    fits = tuple(sorted((float(a), float(b)) for a, b in map(json.loads, lines)))
    return Timing(path, wall, fits, began)


def measure(
    label: str,
    rows: int,
    epochs: int,
    trials: int,
    work: Path,
    *,
    paths: tuple[str, ...],
    log: Callable[[str], None],
) -> Variant:
    """Times ``paths`` ("direct", "tune_model", "tune_arms") in the order given: alternate it
    between variants, so a drift in load hits every path alike."""
    data = write_cache(work / f"data-{label}", rows, seed=0)
    space = space_with(work, epochs)
    timings = {}
    for path in paths:
        if path == "direct":
            timings[path] = direct_fits(space, data, trials)
        else:
            timings[path] = ray_fits(space, data, trials, work / f"{path}-{label}", path)
    direct = timings.pop("direct")
    v = Variant(label, rows, epochs, trials, direct, timings)
    for path, t in v.ray.items():
        log(
            f"{label}, {path}: {trials} trials, direct {v.direct.wall:.1f} s, Ray "
            f"{t.wall:.1f} s, overhead {v.overhead(path):.2f} s per trial "
            f"({v.percent(path):.1f}% of {v.fit_s:.2f} s), {v.outside(path):.2f} s outside fits"
        )
    return v


def render(
    short: Variant,
    long: Variant,
    startup: float,
    imports: float,
    load: tuple[float, float],
) -> str:
    suite = SUITES["criteo"]
    target = default_trial_seconds()
    lines = [
        "# Ray Tune's overhead per trial",
        "",
        f"`.venv/bin/python -m benchmarks.ray_overhead` on {platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, Ray {ray.__version__}; one CPU and "
        f"one thread per trial, one trial at a time. Load average {load[0]:.1f} at start, "
        f"{load[1]:.1f} at end.",
        "",
        "A small DCN-v2 with every parameter fixed (26 fields x 16 over 1,000 ids each, 13 "
        "numeric, 2 cross layers, MLP 256-128, batch 1024, all its epochs) on synthetic "
        "Criteo-shaped rows in a memory-mapped dataset cache. **direct**: `family.fit` in this "
        "process, N times after an untimed warm-up fit. **`tune_model`**: one call of N trials "
        "on a local Ray already started, as a search runs them (Optuna, ASHA, a trial's process "
        "kept for the next trial, a report per epoch, each row appended to the results table). "
        "**`tune_arms`**: the same N fits as one factor-study arm of N seeds (FIFO, no ASHA). "
        "Overhead per trial = (Ray wall - "
        "direct wall) / N, and its share of the mean direct fit. Each fit also writes its start "
        "and end, which splits the Ray wall into the fits themselves (a fit in a trial against "
        "one in this process) and the time outside them (scheduling, trial processes, imports, "
        "reports, rows), free of the fits' run-to-run noise.",
        "",
        "| trials | train rows x epochs | N | direct fit (s) | path | Ray wall (s) | "
        "fit in a trial (s) | outside the fits, per trial (s) | overhead per trial (s) | "
        "% of trial |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for v in (short, long):
        for path, t in v.ray.items():
            lines.append(
                f"| {v.label} | {v.rows:,} x {v.epochs} | {v.trials} | {v.fit_s:.2f} | "
                f"`{path}` | {t.wall:.1f} | {statistics.fmean(t.fit_seconds):.2f} | "
                f"{v.outside(path):.2f} | {v.overhead(path):.2f} | {v.percent(path):.1f}% |"
            )
    search = {v.label: v.ray["tune_model"] for v in (short, long)}
    reused = {v.label: v.ray["tune_arms"] for v in (short, long)}
    # Both paths keep a trial's process for the next trial: a process start (and the call's
    # Tuner and Optuna study) before the first fit, then short gaps between fits.
    first = statistics.fmean(t.gaps[0] + t.tail for t in search.values())
    gap = statistics.fmean(g for t in search.values() for g in t.gaps[1:])
    warm = statistics.fmean(search[long.label].fit_seconds[1:]) - long.fit_s
    arms_first = statistics.fmean(t.gaps[0] for t in reused.values())
    arms_gap = statistics.fmean(g for t in reused.values() for g in t.gaps[1:])
    projected = (first + (suite.trials - 1) * gap) / suite.trials + max(0.0, warm)
    at_default = 100 * projected / target
    verdict = "holds" if at_default < 5 else "does not hold"
    lines += [
        "",
        f"- **Ray start-up** (a local cluster, once per `harness run`): {startup:.1f} s.",
        f"- **A search (`tune_model`)**: {first:.2f} s per call outside the fits (the trial "
        f"process's start, importing what a trial imports takes {imports:.1f} s in a new "
        "Python process: torch, ray.tune, scikit-learn through `harness.metrics`, harness; the "
        f"Tuner, the Optuna study, the end), then {gap:.2f} s between one trial's fit and the "
        f"next one's (the process is reused); a later long fit in the trial takes {warm:+.2f} s "
        "against one in this process.",
        f"- **A study's arm (`tune_arms`)**: {arms_first:.2f} s before the first fit, then "
        f"{arms_gap:.2f} s between fits.",
        f"- **Against the target** (issue #9: under 5% of trial time at the default budget): "
        f"the default budget gives a trial about {target:.0f} s (the criteo suite: "
        f"{suite.time_budget_s:,.0f} s over {len(suite.models)} models of {suite.trials} "
        f"trials, one at a time); the long trials here take {long.fit_s:.1f} s. Measured over "
        f"{long.trials} long trials, a search's overhead is {long.overhead('tune_model'):.2f} s "
        f"per trial ({long.percent('tune_model'):.1f}%): the per-call part weighs on so few. "
        f"Over a model's {suite.trials} trials that is {projected:.2f} s per trial, "
        f"**{at_default:.1f}%** of {target:.0f} s (the per-call part spread over "
        f"{suite.trials} trials, the measured gap between fits, and the later fits' difference "
        f"counted only if positive): the target **{verdict}** (computed from the rows above, "
        f"not a {suite.trials}-trial run).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--short-rows", type=int, default=24_000)
    parser.add_argument("--short-epochs", type=int, default=2)
    parser.add_argument("--short-trials", type=int, default=8)
    parser.add_argument("--long-rows", type=int, default=160_000)
    parser.add_argument("--long-epochs", type=int, default=4)
    parser.add_argument("--long-trials", type=int, default=3)
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ray-overhead-") as tmp:
        work = Path(tmp)
        # Warm this process (imports, first-call costs) so the direct fits time only fitting.
        warm = write_cache(work / "warm", 4_096, seed=1)
        direct_fits(space_with(work, 1), warm, 1)
        t0 = time.perf_counter()
        with ray_session(num_cpus=os.cpu_count()):
            startup = time.perf_counter() - t0
            print(f"Ray start-up {startup:.1f} s", flush=True)
            short = measure(
                "short",
                args.short_rows,
                args.short_epochs,
                args.short_trials,
                work,
                paths=("direct", "tune_model", "tune_arms"),
                log=print,
            )
            long = measure(
                "default-budget length",
                args.long_rows,
                args.long_epochs,
                args.long_trials,
                work,
                paths=("tune_arms", "tune_model", "direct"),
                log=print,
            )
        imports = import_seconds()
        print(f"imports of a trial process {imports:.1f} s", flush=True)
    text = render(short, long, startup, imports, (load_start, os.getloadavg()[0]))
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
