"""Training throughput of DCN-v2 with each numeric encoding and each categorical embedding.

The ``dcnv2`` preset at its standard point (batch 4096, 26 fields x 16, 13 numeric with ~10%
NaN, 3 full-rank cross layers, MLP 512-256, 2 threads), one factor changed at a time:

- **numeric encodings**: every registered encoding at its defaults, each numeric feature made a
  16-wide token by the tokenizer's per-feature linear map (``numeric_tokens = "per_feature"``), so
  every variant feeds the cross network the same 39 x 16 = 624 inputs and the difference is the
  encoding's own cost (with ``flat``, PLE's 13 x bins channels would widen the cross layers
  themselves, a model change rather than an encoding cost);
- **categorical embeddings**: every registered embedding kind at its defaults (fixed size 16).

All variants of one table are stepped round-robin, one step each, so load from other processes
hits them alike; read the ratios to the first row.

Run: ``.venv/bin/python -m benchmarks.representations [--steps 40]``; writes
``benchmarks/results/representations.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from benchmarks.train_rankers import (
    BATCH,
    DIM,
    N_CAT,
    N_NUM,
    VOCAB,
    harness_stepper,
    interleave,
    make_arrays,
    standard_config,
)
from harness.families.neural import NeuralConfig
from harness.models.embeddings import EMBEDDINGS
from harness.models.numeric import NUMERIC_ENCODINGS

RESULTS = Path(__file__).parent / "results" / "representations.md"


def _with_tokenizer(config: NeuralConfig, **changes: object) -> NeuralConfig:
    tokenizer = dataclasses.replace(config.model.tokenizer, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(config, model=dataclasses.replace(config.model, tokenizer=tokenizer))


def _table(
    title: str,
    variants: Sequence[tuple[str, NeuralConfig]],
    steps: int,
    rows: int,
) -> list[str]:
    data = make_arrays(rows, seed=3)
    steppers: list[Callable[[], None]] = []
    models: list[nn.Module] = []
    for _, config in variants:
        step, model = harness_stepper(config, data.split)
        for _ in range(3):  # warm-up
            step()
        steppers.append(step)
        models.append(model)
    paired = interleave(steppers, steps)
    lines = [
        f"## {title}",
        "",
        "| variant | samples/s | median step (ms) | vs first | params | embedding bytes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for k, ((name, _), model) in enumerate(zip(variants, models, strict=True)):
        footprint = getattr(model, "embedding_footprint", None)
        size = f"{footprint().bytes:,}" if footprint is not None else ""
        params = sum(p.numel() for p in model.parameters())
        lines.append(
            f"| {name} | {paired.sps(k):,.0f} | {paired.median_ms(k):.1f} | "
            f"{paired.ratio(k):.2f} | {params:,} | {size} |"
        )
        print(lines[-1], flush=True)
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = BATCH * (args.steps + 3)
    base = _with_tokenizer(standard_config("dcnv2"), numeric_tokens="per_feature")
    load_start = os.getloadavg()[0]

    numeric = [
        (f"`{name}`", _with_tokenizer(base, numeric=config_cls()))
        for name, config_cls in NUMERIC_ENCODINGS.items()
    ]
    # log1p first: the ratios read against today's default encoding.
    numeric.sort(key=lambda item: item[0] != "`log1p`")
    lines = _table(
        "DCN-v2 with each numeric encoding (per-feature tokens)", numeric, args.steps, rows
    )

    embedded = [
        (f"`{name}`", _with_tokenizer(base, embedding=config_cls()))
        for name, config_cls in EMBEDDINGS.items()
    ]
    embedded.sort(key=lambda item: item[0] != "`fused`")
    lines += _table("DCN-v2 with each categorical embedding", embedded, args.steps, rows)
    load_end = os.getloadavg()[0]

    header = [
        "# Feature representations: DCN-v2 throughput per numeric encoding and embedding",
        "",
        f"`.venv/bin/python -m benchmarks.representations --steps {args.steps}` on "
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{args.threads} threads; `dcnv2` at its standard point (3 full-rank cross layers, MLP "
        f"512-256), batch {BATCH}, {N_CAT} fields x {DIM} (vocabulary {VOCAB:,} per field), "
        f"{N_NUM} numeric made per-feature tokens of {DIM}. Each table steps its variants "
        f"round-robin, {args.steps} steps each after 3 warm-up steps. Load average "
        f"{load_start:.1f} at start, {load_end:.1f} at end. Target (issue #10): PLE within 15% "
        "of log1p.",
        "",
    ]
    text = "\n".join(header + lines)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
