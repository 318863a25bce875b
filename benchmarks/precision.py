"""bf16 autocast against fp32 on this machine: training and scoring speed, and quality.

Three measurements, each comparing ``TrainConfig.precision = "fp32"`` with ``"bf16"`` side by
side in one run (the ratios are the figures to read):

- **training throughput of every neural preset** at its standard point (as in
  ``benchmarks/train_rankers.py``: batch 4096, 26 fields x 16, 13 numeric), the fp32 and the bf16
  model (same initial weights, same batches) stepped alternately, one ``train_step`` each;
- **scoring throughput** of ``dcnv2`` and ``dlrm`` (``predict`` over the test split), fp32 and
  bf16 alternately, several repeats;
- **quality**: ``dcnv2`` and ``dlrm`` trained by ``harness.training.fit`` for the same number of
  epochs (patience = epochs) on planted Criteo-shaped data (the label follows numeric terms,
  per-id effects of eight fields and a pairwise interaction of two), with fixed seeds: test AUC
  and logloss, mean +- std over the seeds, and the per-seed difference bf16 - fp32.

The last column of the first table is what ``precision = "auto"`` picks for that preset on this
machine (``resolve_precision``): it should be bf16 exactly where the ratio is clearly above 1.

Run: ``.venv/bin/python -m benchmarks.precision [--steps 10 --seeds 3]``; writes
``benchmarks/results/precision.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks.train_rankers import (
    BATCH,
    DIM,
    N_CAT,
    N_NUM,
    ROOT,
    VOCAB,
    dataset,
    interleave,
    make_arrays,
    preset,
    schema,
    standard_config,
)
from harness.data.schema import EncodedDataset, EncodedSplit
from harness.families.neural import NeuralConfig, build_ranker
from harness.fitting import FitResult, TrainContext
from harness.training import fit, make_loader, make_optimizers, predict, train_step
from harness.training.config import Precision
from harness.training.precision import bf16_supported, resolve_precision

RESULTS = ROOT / "benchmarks" / "results" / "precision.md"
QUALITY_PRESETS = ("dcnv2", "dlrm")
CPU = torch.device("cpu")
COMPARED: tuple[Precision, Precision] = ("fp32", "bf16")


def _dtype(precision: Precision) -> torch.dtype | None:
    return torch.bfloat16 if precision == "bf16" else None


def stepper(config: NeuralConfig, split: EncodedSplit, precision: Precision) -> Callable[[], None]:
    """One ``train_step`` per call in ``precision`` (weights seeded alike for every precision)."""
    torch.manual_seed(0)
    model = build_ranker(config, dataset(split))
    opts = make_optimizers(model, config.train)
    batches = iter(make_loader(split, BATCH, shuffle=True, seed=0, mode="memory"))
    dtype = _dtype(precision)

    def step() -> None:
        train_step(model, next(batches), opts, autocast_dtype=dtype)

    return step


def speed_table(names: Sequence[str], steps: int) -> list[str]:
    split = make_arrays(BATCH * (steps + 2), seed=3).split
    lines = [
        "## Training throughput, every preset at its standard point",
        "",
        f"fp32 and bf16 stepped alternately, {steps} steps each after 2 warm-up steps, batch "
        f"{BATCH}. samples/s is batch / median step time: on this shared machine single steps "
        "now and then take several times their usual time, hitting either precision, and the "
        "median is robust to them; the ratio of summed step times (the mean) is shown too.",
        "",
        "| preset | fp32 samples/s | bf16 samples/s | bf16 / fp32 (median) | bf16 / fp32 (mean) "
        "| `auto` picks here |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name in names:
        config = standard_config(name)
        steppers = [stepper(config, split, p) for p in COMPARED]
        for step in steppers:
            for _ in range(2):
                step()
        paired = interleave(steppers, steps)
        auto = resolve_precision("auto", CPU, build_ranker(config, dataset(split))).dtype
        fp32, bf16 = (statistics.median(t) for t in paired.times)
        lines.append(
            f"| `{name}` | {BATCH / fp32:,.0f} | {BATCH / bf16:,.0f} | **{fp32 / bf16:.2f}** | "
            f"{paired.ratio(1):.2f} | {'bf16' if auto is not None else 'fp32'} |"
        )
        print(lines[-1], flush=True)
        del steppers
    return [*lines, ""]


# --- planted data --------------------------------------------------------------------------------

# Fields whose ids carry a per-id effect, and the pair whose ids interact.
_EFFECT_FIELDS = range(8)
_PAIR = (8, 9)


def planted_split(rows: int, rng: np.random.Generator, effects: np.ndarray) -> EncodedSplit:
    """Criteo-shaped rows whose label follows planted terms (module docstring).

    Ids are drawn from a power law over the first 2,000 of each field's ``VOCAB`` ids, so an id
    seen in training recurs; ``effects`` is ``(len(_EFFECT_FIELDS) + 1, 2000)``, the last row
    the pair's table (indexed by both ids modulo 2000, hashed).
    """
    x_num = rng.lognormal(1.0, 1.5, size=(rows, N_NUM)).astype(np.float32)
    x_num[rng.random((rows, N_NUM)) < 0.1] = np.nan
    x_cat = np.minimum(rng.pareto(1.2, size=(rows, N_CAT)) * 40, 1999).astype(np.int32) + 2
    num = np.nan_to_num(np.log1p(x_num), nan=0.0)
    logit = 0.6 * (num[:, 0] - num[:, 1]) + 0.4 * num[:, 2] * num[:, 3] / 4.0
    for j in _EFFECT_FIELDS:
        logit += effects[j, x_cat[:, j] - 2]
    a, b = (x_cat[:, j] - 2 for j in _PAIR)
    logit += effects[-1, (a * 31 + b * 17) % 2000] * (a < 50) * (b < 50)
    logit -= 1.5
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    return EncodedSplit(x_num, x_cat, y[:, None])


def planted_dataset(n_train: int, n_eval: int) -> EncodedDataset:
    rng = np.random.default_rng(7)
    effects = rng.normal(0.0, 0.7, size=(len(_EFFECT_FIELDS) + 1, 2000))
    effects[-1] *= 2.0
    train, valid, test = (planted_split(n, rng, effects) for n in (n_train, n_eval, n_eval))
    x_cat = np.asarray(train.x_cat)
    return EncodedDataset(
        "planted",
        schema(np.asarray(train.x_num)),
        train,
        valid,
        test,
        "random",
        synthetic=True,
        cat_counts=tuple(np.bincount(x_cat[:, j], minlength=VOCAB) for j in range(N_CAT)),
    )


# --- quality and scoring -----------------------------------------------------------------------


def _quality_config(name: str, precision: Precision, epochs: int) -> NeuralConfig:
    config = standard_config(name)
    train = dataclasses.replace(
        config.train,
        batch_size=1024,
        learning_rate=1e-3,
        embedding_learning_rate=1e-2,
        max_epochs=epochs,
        patience=epochs,
        precision=precision,
    )
    return dataclasses.replace(config, train=train)


def _fit(
    name: str, precision: Precision, data: EncodedDataset, seed: int, epochs: int, threads: int
) -> tuple[FitResult, nn.Module]:
    config = _quality_config(name, precision, epochs)
    torch.manual_seed(seed)
    model = build_ranker(config, data)
    result = fit(model, data, config.train, TrainContext(seed=seed, threads=threads))
    return result, model


def _mean_std(values: Sequence[float], digits: int = 4) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {std:.{digits}f}"


def quality_tables(
    seeds: int, epochs: int, repeats: int, n_train: int, threads: int
) -> tuple[list[str], list[str]]:
    data = planted_dataset(n_train, n_train // 4)
    quality = [
        "## Quality on planted data",
        "",
        f"`harness.training.fit`, {epochs} epochs (patience {epochs}), batch 1024, learning "
        f"rates 1e-3 (dense) and 1e-2 (embeddings), otherwise the standard point; "
        f"{n_train:,} training rows, {n_train // 4:,} validation and test rows; seeds "
        f"0-{seeds - 1} (initial weights and shuffling), scored at the best validation epoch. "
        "Δ = bf16 - fp32 per seed, then mean ± std.",
        "",
        "| preset | fp32 test AUC | bf16 test AUC | Δ AUC | fp32 logloss | bf16 logloss | "
        "Δ logloss | fit notes (bf16) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    scoring = [
        "## Scoring throughput",
        "",
        f"`predict` over the {n_train // 4:,} test rows (batch 16,384) with the seed-0 models, "
        f"fp32 and bf16 alternately, {repeats} repeats each after one warm-up; samples/s from "
        "the median repeat. Max |Δ p|: the bf16-trained model's test probabilities scored in "
        "fp32 against scored in bf16.",
        "",
        "| preset | fp32 samples/s | bf16 samples/s | bf16 / fp32 | max abs Δ p |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in QUALITY_PRESETS:
        results: dict[Precision, list[FitResult]] = {"fp32": [], "bf16": []}
        models: dict[Precision, nn.Module] = {}
        for seed in range(seeds):
            for precision in COMPARED:
                result, model = _fit(name, precision, data, seed, epochs, threads)
                results[precision].append(result)
                if seed == 0:
                    models[precision] = model
                print(
                    f"{name} seed {seed} {precision}: AUC {result.test.auc:.4f} logloss "
                    f"{result.test.logloss:.4f} ({result.samples_per_s or 0:,.0f}/s, "
                    f"{result.notes!r})",
                    flush=True,
                )
        auc = {p: [r.test.auc for r in rs] for p, rs in results.items()}
        loss = {p: [r.test.logloss for r in rs] for p, rs in results.items()}
        d_auc = [b - f for f, b in zip(auc["fp32"], auc["bf16"], strict=True)]
        d_loss = [b - f for f, b in zip(loss["fp32"], loss["bf16"], strict=True)]
        quality.append(
            f"| `{name}` | {_mean_std(auc['fp32'])} | {_mean_std(auc['bf16'])} | "
            f"**{_mean_std(d_auc)}** | {_mean_std(loss['fp32'])} | {_mean_std(loss['bf16'])} | "
            f"{_mean_std(d_loss)} | {results['bf16'][0].notes or '(none)'} |"
        )
        times: dict[Precision, list[float]] = {"fp32": [], "bf16": []}
        probs: dict[Precision, np.ndarray] = {}
        for k in range(repeats + 1):
            for precision in COMPARED:
                start = time.perf_counter()
                probs[precision] = predict(
                    models[precision], data.test, CPU, autocast_dtype=_dtype(precision)
                )
                if k > 0:
                    times[precision].append(time.perf_counter() - start)
        rows = data.test.n_rows
        sps = {p: rows / statistics.median(t) for p, t in times.items()}
        fp32_probs = predict(models["bf16"], data.test, CPU)
        gap = float(np.abs(fp32_probs - probs["bf16"]).max())
        scoring.append(
            f"| `{name}` | {sps['fp32']:,.0f} | {sps['bf16']:,.0f} | "
            f"**{sps['bf16'] / sps['fp32']:.2f}** | {gap:.4f} |"
        )
        print(quality[-1], scoring[-1], sep="\n", flush=True)
    return [*quality, ""], [*scoring, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-rows", type=int, default=98_304)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    names = [p.stem for p in sorted((ROOT / "search_spaces").glob("*.toml"))]
    neural = [n for n in names if preset(n).family == "neural"]
    speed = speed_table(neural, args.steps)
    quality, scoring = quality_tables(
        args.seeds, args.epochs, args.repeats, args.train_rows, args.threads
    )
    load_end = os.getloadavg()[0]
    capabilities: Mapping[str, Any] = getattr(torch.cpu, "get_capabilities", dict)()
    flags = [f for f in ("avx512_bf16", "amx_bf16") if capabilities.get(f)]
    header = [
        "# Mixed precision: bf16 autocast against fp32 (issue #9)",
        "",
        f"`.venv/bin/python -m benchmarks.precision --steps {args.steps} --seeds {args.seeds}` "
        f"on {platform.machine()} ({capabilities.get('cpu_name', platform.processor())}, "
        f"bf16 flags: {', '.join(flags) or 'none'}; native bf16: {bf16_supported(CPU)}), "
        f"{os.cpu_count()} cores, torch {torch.__version__}, {args.threads} threads; "
        f"{N_CAT} fields x {DIM} (vocabulary {VOCAB:,} per field), {N_NUM} numeric. bf16 = "
        "forward passes under `torch.autocast(dtype=torch.bfloat16)`, loss, weights and "
        f"optimiser states in fp32. Load average {load_start:.1f} at start, {load_end:.1f} at "
        f"end; {time.perf_counter() - started:.0f} s in all. No GPU here: nothing below "
        "measures CUDA.",
        "",
    ]
    text = "\n".join(header + speed + scoring + quality)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
