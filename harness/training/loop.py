"""``fit``: trains a ranker with sparse + dense Adam, early-stops on validation AUC.

Small functions rather than a trainer class: ``make_optimizers``, ``train_step``, ``train_epoch``,
``predict`` and ``fit`` that strings them together. The loss (binary cross-entropy on logits,
averaged over tasks) lives here, not in the model. With ``TrainConfig.precision`` resolved to
bf16 the forward passes run under autocast (`harness.training.precision`); the loss is always
taken in fp32.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import Tensor, nn

from harness.data.schema import EncodedDataset, EncodedSplit
from harness.errors import HarnessError
from harness.fitting import EpochMetrics, FitResult, TrainContext
from harness.metrics import Metrics, task_metrics
from harness.models.batch import Batch
from harness.models.embeddings.base import CategoricalEmbedding
from harness.models.matryoshka import prefix_bytes, tokenizers, truncated
from harness.training.config import TrainConfig
from harness.training.distill import prepare_distillation
from harness.training.embeddings import (
    RowRegularizer,
    apply_max_norm,
    embedding_dropout,
    freeze_tables,
    id_tables,
)
from harness.training.loader import BatchLoader, make_loader
from harness.training.losses import LossFn, task_loss
from harness.training.matryoshka import (
    MatryoshkaConfig,
    SizeScores,
    matryoshka_json,
    matryoshka_loss,
)
from harness.training.precision import autocast, resolve_precision
from harness.training.pretrain import pretrain_embeddings

__all__ = [
    "DivergedError",
    "EpochStats",
    "LossFn",
    "fit",
    "forward",
    "make_optimizers",
    "predict",
    "resolve_device",
    "task_loss",
    "train_epoch",
    "train_step",
]


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite (a learning rate too high, say)."""


@dataclass(frozen=True)
class EpochStats:
    """What one pass over the training split measured."""

    mean_loss: float
    rows: int
    seconds: float

    @property
    def samples_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else math.nan


def resolve_device(name: str) -> torch.device:
    """The torch device for ``TrainContext.device``, refusing CUDA where there is none."""
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise HarnessError(f"unknown device {name!r}: {e}") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HarnessError(f"device {name!r} asked for, but torch sees no CUDA device here")
    return device


def make_optimizers(model: nn.Module, cfg: TrainConfig) -> list[torch.optim.Optimizer]:
    """The ID tables' optimiser (``cfg.embeddings.optimizer``: SparseAdam by default), then
    AdamW for every other parameter; tables that do not train (frozen) get none.

    A sparse table's gradient holds only the rows a batch looked up; the sparse optimisers
    update just those rows, where dense Adam would rewrite the whole table (and its moments)
    every step.
    """
    sparse_ids = {id(t.weight) for t in id_tables(model)}
    params = [p for p in model.parameters() if p.requires_grad]
    sparse = [p for p in params if id(p) in sparse_ids]
    dense = [p for p in params if id(p) not in sparse_ids]
    optimizers: list[torch.optim.Optimizer] = []
    if sparse:
        optimizers.append(cfg.embeddings.optimizer.build(sparse, cfg.embedding_learning_rate))
    if dense:
        optimizers.append(
            torch.optim.AdamW(dense, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        )
    return optimizers


def forward(model: nn.Module, batch: Batch) -> Tensor:
    """``model``'s logits for ``batch``: ``model(x_num, x_cat)``, and ``x_vec`` after them when
    the batch has vector features (so a model without any keeps its two-argument call)."""
    if batch.x_vec is None:
        out: Tensor = model(batch.x_num, batch.x_cat)
    else:
        out = model(batch.x_num, batch.x_cat, batch.x_vec)
    return out


_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)

# Steps between two checks that the running loss is finite: often enough to stop a diverged
# trial early, rarely enough that a GPU seldom waits for the host.
_CHECK_EVERY = 64


def _check_finite(total: Tensor, rows: int) -> None:
    value = float(total.item())
    if not math.isfinite(value):
        raise DivergedError(f"the training loss became {value / max(rows, 1)} after {rows} rows")


def train_step(
    model: nn.Module,
    batch: Batch,
    optimizers: list[torch.optim.Optimizer],
    task_weights: Tensor | None = None,
    *,
    autocast_dtype: torch.dtype | None = None,
    rows: RowRegularizer | None = None,
    loss_fn: LossFn | None = None,
    matryoshka: MatryoshkaConfig | None = None,
) -> Tensor:
    """One optimisation step on ``batch`` (already on the model's device); returns the loss.

    With ``autocast_dtype`` (``torch.bfloat16``) the forward pass runs under autocast; the
    weights, their gradients and the optimiser states stay fp32 (autocast casts copies).
    ``rows`` adds the L2 of the ID rows the batch used and keeps their max-norm. ``loss_fn``
    replaces `task_loss` (distillation's mix of labels and a teacher's scores). With
    ``matryoshka`` sizes the step minimises the whole model's loss plus the weighted losses
    of the model with its embeddings cut to each size (one forward pass each, one backward);
    the returned loss is still the whole model's.
    """

    def logits_of() -> Tensor:
        with autocast(batch.y.device, autocast_dtype):
            return forward(model, batch)

    # The loss outside autocast, on fp32 logits: a bf16 logit keeps 8 significant bits, too
    # coarse for the log of a probability near 0 or 1. A no-op in fp32 (``.float()`` returns
    # the tensor itself), so the fp32 path is the one from before mixed precision.
    def loss_of(logits: Tensor) -> Tensor:
        if loss_fn is not None:
            return loss_fn(logits.float(), batch.y)
        return task_loss(logits.float(), batch.y, task_weights)

    if matryoshka is not None and matryoshka.enabled:
        total, loss = matryoshka_loss(model, matryoshka, logits_of, loss_of)
    else:
        total = loss = loss_of(logits_of())
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    torch.autograd.backward(total)
    touched = rows.before_step() if rows is not None else None
    for opt in optimizers:
        opt.step()
    if rows is not None:
        rows.after_step(touched)
    return loss.detach()


def train_epoch(
    model: nn.Module,
    loader: BatchLoader,
    optimizers: list[torch.optim.Optimizer],
    device: torch.device,
    *,
    progress: Progress | None = None,
    description: str = "train",
    task_weights: Tensor | None = None,
    autocast_dtype: torch.dtype | None = None,
    rows: RowRegularizer | None = None,
    evals: int = 1,
    mid_epoch: Callable[[float], None] | None = None,
    loss_fn: LossFn | None = None,
    matryoshka: MatryoshkaConfig | None = None,
) -> EpochStats:
    """One pass over ``loader``: forward, BCE-with-logits loss, backward, optimiser steps.

    The loss is summed on the device and read every ``_CHECK_EVERY`` steps, so a GPU rarely
    waits on the host. With ``evals`` > 1, ``mid_epoch(fraction)`` is called after the steps
    that end each ``1/evals`` of the epoch but the last (it may score the model; training
    resumes in train mode). ``matryoshka`` adds its nested-prefix losses (`train_step`).

    Raises:
        DivergedError: the loss became NaN or infinite.
    """
    model.train()
    non_blocking = device.type == "cuda"
    # Batch norm cannot normalise one row in training mode (torch raises): a split of
    # 1 + k * batch_size rows ends its epoch with such a batch, which is then skipped.
    skip_single = any(isinstance(m, _BATCH_NORMS) for m in model.modules())
    total = torch.zeros((), dtype=torch.float64, device=device)
    seen = 0
    task = progress.add_task(description, total=len(loader)) if progress is not None else None
    n_steps = len(loader)
    marks = {round(n_steps * i / evals): i / evals for i in range(1, evals)} if mid_epoch else {}
    start = time.perf_counter()
    for step, host_batch in enumerate(loader, start=1):
        if skip_single and len(host_batch) < 2:
            continue
        batch = host_batch.to(device, non_blocking=non_blocking)
        loss = train_step(
            model,
            batch,
            optimizers,
            task_weights,
            autocast_dtype=autocast_dtype,
            rows=rows,
            loss_fn=loss_fn,
            matryoshka=matryoshka,
        )
        total += loss * len(batch)
        seen += len(batch)
        if step % _CHECK_EVERY == 0:
            _check_finite(total, seen)
        if progress is not None and task is not None:
            progress.advance(task)
        if step in marks and mid_epoch is not None:
            mid_epoch(marks[step])
            model.train()
    _check_finite(total, seen)
    mean_loss = float(total.item()) / max(seen, 1)
    seconds = time.perf_counter() - start
    if progress is not None and task is not None:
        progress.remove_task(task)
    return EpochStats(mean_loss=mean_loss, rows=seen, seconds=seconds)


@torch.inference_mode()
def predict(
    model: nn.Module,
    split: EncodedSplit,
    device: torch.device,
    *,
    batch_size: int = 16384,
    autocast_dtype: torch.dtype | None = None,
) -> np.ndarray:
    """Click probabilities ``(N, n_tasks)`` for every row of ``split``, in row order.

    With ``autocast_dtype`` the forward passes run under autocast, as in training; the sigmoid
    is taken on fp32 logits.
    """
    model.eval()
    loader = make_loader(split, batch_size, shuffle=False)
    out = []
    for b in (hb.to(device) for hb in loader):
        with autocast(device, autocast_dtype):
            logits = forward(model, b)
        out.append(torch.sigmoid(logits.float()).cpu())
    return torch.cat(out).numpy()


def _score(split: EncodedSplit, probs: np.ndarray, *, grouped: bool = True) -> tuple[Metrics, ...]:
    """Per-task metrics (with GAUC and NDCG@10 on grouped data when ``grouped``); the search
    ranks on the first (primary) task. Validation, scored every epoch, skips the per-group
    metrics: nothing chooses by them, and they cost a sort of the split."""
    group = None if split.group is None or not grouped else np.asarray(split.group)
    return task_metrics(np.asarray(split.y).reshape(split.n_rows, -1), probs, group)


@contextlib.contextmanager
def _progress(show: bool) -> Iterator[Progress | None]:
    if not show:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        yield progress


def _improved(auc: float, best_auc: float | None) -> bool:
    # NaN (a one-class validation split) never counts as better, except as the first epoch.
    return best_auc is None or (not math.isnan(auc) and (math.isnan(best_auc) or auc > best_auc))


def _pretrain(
    model: nn.Module, data: EncodedDataset, cfg: TrainConfig, device: torch.device, seed: int
) -> str:
    """The contrastive stage on the model's categorical embedding (``cfg.pretrain``), then its
    tables frozen when asked; the note for the trial ("" when off).

    Raises:
        HarnessError: pre-training asked for a model without categorical embeddings.
    """
    if not cfg.pretrain.enabled:
        return ""
    embeddings = [m for m in model.modules() if isinstance(m, CategoricalEmbedding)]
    if not embeddings:
        raise HarnessError(
            "train.pretrain.epochs > 0 needs categorical features to pre-train, and this model "
            "has none; set train.pretrain.epochs = 0"
        )
    report = pretrain_embeddings(embeddings[0], data.train, cfg.pretrain, device=device, seed=seed)
    if cfg.pretrain.then == "freeze":
        freeze_tables(id_tables(embeddings[0]))
    return report.note() + (", then frozen" if cfg.pretrain.then == "freeze" else "")


def fit(model: nn.Module, data: EncodedDataset, cfg: TrainConfig, ctx: TrainContext) -> FitResult:
    """Trains ``model`` on ``data.train``, early-stops on ``data.valid``, scores ``data.test``.

    After each epoch the validation split is scored with ``harness.metrics.binary_metrics`` and
    reported through ``ctx.on_epoch``; training stops after ``cfg.patience`` epochs without a
    better validation AUC (or at the first epoch end past ``ctx.deadline``), and the weights of
    the best epoch are restored before scoring test.

    Args:
        model: maps ``(x_num, x_cat)`` (and ``x_vec`` when the data has vector features) to
            logits ``(B, n_tasks)``; built and seeded by the caller.
        data: the encoded dataset; its label columns must match the model's tasks.
        cfg: optimiser, batching and early stopping.
        ctx: seed, threads, device, epoch callback, progress display.

    Returns:
        Validation and test metrics at the best epoch, the per-epoch curve, the parameter count,
        training throughput (rows/s over the training passes only) and total wall seconds; the
        notes say when the forward passes ran in bf16 (``cfg.precision``), or when bf16 was
        asked for but the device has none (trained in fp32), and which ID-table remedies,
        pre-training and distillation the fit used.

    The ID tables train as ``cfg.embeddings`` says (optimiser, reset/freeze schedule, row L2,
    max-norm, dropout); ``cfg.pretrain`` trains the categorical embedding alone first;
    ``cfg.distill`` mixes a teacher's scores (``ctx.teachers_dir``) into the loss; with
    ``cfg.evals_per_epoch`` > 1 the curve also has validation points within each epoch.

    Raises:
        DivergedError: the training loss became NaN or infinite.
        HarnessError: the device asked for is not available.
    """
    wall_start = time.perf_counter()
    torch.set_num_threads(ctx.threads)
    torch.manual_seed(ctx.seed)
    device = resolve_device(ctx.device)
    model.to(device)
    precision = resolve_precision(cfg.precision, device, model)
    amp = precision.dtype
    n_params = sum(p.numel() for p in model.parameters())
    pretrained = _pretrain(model, data, cfg, device, ctx.seed)
    emb = cfg.embeddings
    tables = id_tables(model)
    apply_max_norm(tables, emb.max_norm)  # the bound holds from the start
    before_epoch = emb.schedule.start(tables)
    rows = RowRegularizer(tables, emb.l2, emb.max_norm)
    dropouts = [
        embedding_dropout(m, emb.dropout)
        for m in model.modules()
        if isinstance(m, CategoricalEmbedding)
    ]
    optimizers = make_optimizers(model, cfg)
    weights = (
        torch.tensor(cfg.task_weights, dtype=torch.float32, device=device)
        if cfg.task_weights
        else None
    )
    student = prepare_distillation(cfg.distill, data, ctx, weights)
    loader = make_loader(
        student.train,
        cfg.batch_size,
        shuffle=True,
        seed=ctx.seed,
        mode=cfg.loader,
        block_rows=cfg.block_rows,
        pin_memory=device.type == "cuda",
    )
    curve: list[EpochMetrics] = []
    best_auc: float | None = None
    best_epoch = 0
    best_state: dict[str, Tensor] = {}
    train_rows, train_seconds = 0, 0.0
    out_of_time = False
    evals: list[tuple[float, float]] = []

    def score_valid() -> tuple[Metrics, ...]:
        probs = predict(
            model, data.valid, device, batch_size=cfg.eval_batch_size, autocast_dtype=amp
        )
        return _score(data.valid, probs, grouped=False)

    def mid_epoch(fraction: float) -> None:
        evals.append((epoch - 1 + fraction, score_valid()[0].auc))

    with _progress(ctx.show_progress) as progress:
        for epoch in range(1, cfg.max_epochs + 1):
            epoch_start = time.perf_counter()
            if before_epoch(epoch) and any(t.weight.requires_grad for t in tables):
                # The tables were re-drawn: their optimiser's state describes the old values.
                # make_optimizers puts theirs first; the dense layers' keeps its state.
                optimizers = [make_optimizers(model, cfg)[0], *optimizers[1:]]
            evals.clear()
            try:
                stats = train_epoch(
                    model,
                    loader,
                    optimizers,
                    device,
                    progress=progress,
                    description=f"epoch {epoch}/{cfg.max_epochs}",
                    task_weights=weights,
                    autocast_dtype=amp,
                    rows=rows if rows.active else None,
                    evals=cfg.evals_per_epoch,
                    mid_epoch=mid_epoch if cfg.evals_per_epoch > 1 else None,
                    loss_fn=student.loss_fn,
                    matryoshka=cfg.matryoshka,
                )
            except DivergedError as e:
                raise DivergedError(
                    f"epoch {epoch}: {e}; lower the learning rates "
                    f"({cfg.learning_rate=}, {cfg.embedding_learning_rate=})"
                ) from e
            train_rows += stats.rows
            train_seconds += stats.seconds
            valid = score_valid()
            evals.append((float(epoch), valid[0].auc))
            improved = _improved(valid[0].auc, best_auc)
            test: tuple[Metrics, ...] = ()
            test_scores: np.ndarray | None = None
            predict_seconds: float | None = None
            if improved:
                best_auc, best_epoch = valid[0].auc, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                # Scored now, not after the loop: a trial stopped by the scheduler or the time
                # limit keeps the test score of its best epoch so far.
                predict_start = time.perf_counter()
                test_probs = predict(
                    model, data.test, device, batch_size=cfg.eval_batch_size, autocast_dtype=amp
                )
                predict_seconds = time.perf_counter() - predict_start
                test = _score(data.test, test_probs)
                test_scores = test_probs[:, 0].astype(np.float32)
            metrics = EpochMetrics(
                epoch=epoch,
                valid=valid[0],
                train_loss=stats.mean_loss,
                seconds=time.perf_counter() - epoch_start,
                test=test[0] if test else None,
                valid_tasks=valid,
                test_tasks=test,
                n_params=n_params,
                test_scores=test_scores,
                predict_seconds=predict_seconds,
                evals=tuple(evals) if cfg.evals_per_epoch > 1 else (),
            )
            curve.append(metrics)
            ctx.on_epoch(metrics)
            if not improved and epoch - best_epoch >= cfg.patience:
                break
            if ctx.out_of_time() and epoch < cfg.max_epochs:
                out_of_time = True
                break
    for handle in dropouts:
        if handle is not None:
            handle.remove()
    model.load_state_dict(best_state)
    best = curve[best_epoch - 1]
    assert best.test is not None  # scored when it became the best epoch
    sizes = (
        _score_sizes(model, data, cfg, device, amp, (best.valid, best.test))
        if cfg.matryoshka.enabled
        else {}
    )
    return FitResult(
        valid=best.valid,
        test=best.test,
        best_epoch=best_epoch,
        curve=tuple(curve),
        n_params=n_params,
        train_seconds=time.perf_counter() - wall_start,
        samples_per_s=train_rows / train_seconds if train_seconds > 0 else None,
        notes="; ".join(
            n
            for n in (precision.note, emb.note(), pretrained, student.note, cfg.matryoshka.note())
            if n
        ),
        valid_tasks=best.valid_tasks,
        test_tasks=best.test_tasks,
        out_of_time=out_of_time,
        test_scores=best.test_scores,
        predict_seconds=best.predict_seconds,
        matryoshka=matryoshka_json(sizes),
    )


def _score_sizes(
    model: nn.Module,
    data: EncodedDataset,
    cfg: TrainConfig,
    device: torch.device,
    amp: torch.dtype | None,
    whole: tuple[Metrics, Metrics],
) -> dict[int, SizeScores]:
    """Validation and test scores (primary task) and the ID tables' bytes with the
    categorical embeddings cut to each of ``cfg.matryoshka.sizes``, and whole (the width):
    ``whole``, the best epoch's own scores, so the whole model is not scored twice."""
    out: dict[int, SizeScores] = {}
    for k in cfg.matryoshka.sizes:
        with truncated(model, k):
            scores = [
                _score(
                    split,
                    predict(
                        model, split, device, batch_size=cfg.eval_batch_size, autocast_dtype=amp
                    ),
                    grouped=False,
                )[0]
                for split in (data.valid, data.test)
            ]
        out[k] = SizeScores(valid=scores[0], test=scores[1], table_bytes=prefix_bytes(model, k))
    widths = {t.embedding.dim for t in tokenizers(model) if t.embedding is not None}
    if widths:
        full = max(widths)
        out[full] = SizeScores(valid=whole[0], test=whole[1], table_bytes=prefix_bytes(model, full))
    return out
