"""How the ID tables train (`harness.training.embeddings`): their optimisers, the ``reset`` and
``freeze`` schedules, L2 on the rows a batch used, max-norm, dropout, and the loop's hooks."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pytest
import torch
from torch import nn

from harness.data.schema import EncodedDataset
from harness.families.neural import NeuralConfig, build_ranker
from harness.fitting import EpochMetrics, TrainContext
from harness.models import MLPConfig, RankerConfig, TokenizerConfig
from harness.models.batch import Batch
from harness.models.interactions import CrossConfig
from harness.training import TrainConfig, fit, make_optimizers
from harness.training.embeddings import (
    EMBEDDING_OPTIMIZERS,
    EMBEDDING_SCHEDULES,
    AdagradConfig,
    EmbeddingTraining,
    FreezeConfig,
    NoScheduleConfig,
    ResetConfig,
    RowRegularizer,
    RowWiseAdagrad,
    RowWiseAdagradConfig,
    add_row_l2,
    embedding_dropout,
    id_tables,
)
from harness.training.loader import make_loader
from harness.training.loop import train_step
from harness.training.pretrain import PretrainConfig

SMALL = RankerConfig(
    tokenizer=TokenizerConfig(embedding_dim=8),
    interaction=CrossConfig(layers=1),
    backbone=MLPConfig(dims=(16,)),
)


def _ranker(data: EncodedDataset, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_ranker(NeuralConfig(model=SMALL), data)


def _train(**kw: object) -> TrainConfig:
    base: dict[str, object] = {
        "batch_size": 128,
        "max_epochs": 3,
        "patience": 3,
        "learning_rate": 1e-2,
        "embedding_learning_rate": 3e-2,
    }
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def _tables(model: nn.Module) -> list[torch.Tensor]:
    return [t.weight.detach().clone() for t in id_tables(model)]


def _dense(model: nn.Module) -> list[torch.Tensor]:
    tables = {id(t.weight) for t in id_tables(model)}
    return [p.detach().clone() for p in model.parameters() if id(p) not in tables]


def _sparse_table(rows: int = 6, dim: int = 3, seed: int = 0) -> nn.Embedding:
    torch.manual_seed(seed)
    table = nn.Embedding(rows, dim, sparse=True)
    nn.init.normal_(table.weight, std=0.1)
    return table


def _lookup(table: nn.Embedding, ids: list[int], scale: float = 1.0) -> None:
    """A backward pass through the rows ``ids`` (loss = scale * sum of their values)."""
    table.weight.grad = None
    (table(torch.tensor(ids)).sum() * scale).backward()


# --- the schedules ------------------------------------------------------------------------------


def test_freeze_keeps_the_tables_bit_identical_after_its_epoch_while_dense_layers_train(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(1024)
    model = _ranker(data)
    snapshots: list[tuple[list[torch.Tensor], list[torch.Tensor]]] = []

    def seen(_m: EpochMetrics) -> None:
        snapshots.append((_tables(model), _dense(model)))

    initial = _tables(model)
    cfg = _train(embeddings=EmbeddingTraining(schedule=FreezeConfig(after_epochs=1)))
    result = fit(model, data, cfg, TrainContext(on_epoch=seen))
    assert len(snapshots) == 3
    (t1, d1), (t2, d2), (t3, d3) = snapshots
    # Epoch 1 trained the tables; from then on not a bit changes.
    assert not all(torch.equal(a, b) for a, b in zip(initial, t1, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(t1, t2, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(t1, t3, strict=True))
    # The dense layers keep learning.
    assert not all(torch.equal(a, b) for a, b in zip(d1, d2, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(d2, d3, strict=True))
    assert "ID tables frozen after epoch 1" in result.notes


def test_reset_redraws_the_tables_from_their_initial_spread_and_keeps_the_dense_layers(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(256)
    model = _ranker(data)
    tables = id_tables(model)
    assert tables
    initial = _tables(model)
    stds = [float(t.std()) for t in initial]
    before = ResetConfig().start(tables)
    assert before(1) is False
    assert all(torch.equal(a, t.weight) for a, t in zip(initial, tables, strict=True))
    with torch.no_grad():  # as if trained: far from the initial values
        for t in tables:
            t.weight.add_(1.0)
    dense = _dense(model)
    assert before(2) is True
    for t, std, old in zip(tables, stds, initial, strict=True):
        w = t.weight.detach()
        assert abs(float(w.mean())) < 3 * std  # centred at 0 again, not at 1
        assert float(w.std()) == pytest.approx(std, rel=0.2)  # the initial spread
        assert not torch.equal(w, old)  # a fresh draw, not the first values
    assert all(torch.equal(a, b) for a, b in zip(dense, _dense(model), strict=True))


def test_reset_in_a_fit_starts_each_epoch_from_fresh_tables(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(1024)
    norms: dict[str, list[float]] = {}
    for name, schedule in (("none", NoScheduleConfig()), ("reset", ResetConfig())):
        model = _ranker(data)
        seen = norms.setdefault(name, [])

        def after(_m: EpochMetrics, model: nn.Module = model, seen: list[float] = seen) -> None:
            seen.append(
                float(torch.cat([t.weight.detach().norm(dim=1) for t in id_tables(model)]).mean())
            )

        cfg = _train(embeddings=EmbeddingTraining(schedule=schedule))
        result = fit(model, data, cfg, TrainContext(on_epoch=after))
    # Measured: rows grow 0.28 -> 0.45 -> 0.62 over three epochs without reset; with it every
    # epoch ends one epoch away from a fresh draw (0.28, 0.27, 0.26).
    assert norms["none"][2] > 1.8 * norms["none"][0]
    assert all(n == pytest.approx(norms["reset"][0], rel=0.15) for n in norms["reset"])
    assert "ID tables reset each epoch" in result.notes


@pytest.mark.parametrize("name", EMBEDDING_SCHEDULES.names)
def test_every_schedule_trains_a_ranker(
    name: str, make_dataset: Callable[..., EncodedDataset]
) -> None:
    data = make_dataset(512)
    schedule = EMBEDDING_SCHEDULES.get(name)()
    cfg = _train(embeddings=EmbeddingTraining(schedule=schedule), max_epochs=2, patience=2)
    result = fit(_ranker(data), data, cfg, TrainContext())
    assert result.best_epoch in (1, 2) and math.isfinite(result.valid.auc)


# --- the optimisers -----------------------------------------------------------------------------


def test_rowwise_adagrad_keeps_one_accumulator_per_row_and_matches_a_hand_computation() -> None:
    table = _sparse_table(rows=4, dim=2)
    w0 = table.weight.detach().clone()
    lr, eps = 0.1, 1e-8
    opt = RowWiseAdagrad([table.weight], lr=lr, eps=eps)
    assert opt.state[table.weight]["sum"].shape == (4,)
    # Row 0 looked up twice (gradient 2 per value), row 2 once; loss = 1.5 * sum.
    _lookup(table, [0, 2, 0], scale=1.5)
    opt.step()
    g = {0: torch.full((2,), 3.0), 2: torch.full((2,), 1.5)}
    expected = w0.clone()
    acc = torch.zeros(4)
    for row, grad in g.items():
        acc[row] += float((grad**2).mean())
        expected[row] -= lr * grad / (math.sqrt(acc[row]) + eps)
    assert torch.allclose(opt.state[table.weight]["sum"], acc)
    assert torch.allclose(table.weight.detach(), expected, atol=1e-7)
    # Rows 1 and 3 untouched; a second step on row 2 divides by the grown accumulator.
    assert torch.equal(table.weight.detach()[[1, 3]], w0[[1, 3]])
    before = table.weight.detach().clone()
    _lookup(table, [2], scale=1.5)
    opt.step()
    acc[2] += 1.5**2
    step = lr * 1.5 / (math.sqrt(acc[2]) + eps)
    assert torch.allclose(table.weight.detach()[2], before[2] - step, atol=1e-7)


def test_rowwise_adagrad_takes_dense_gradients_and_refuses_other_shapes() -> None:
    table = nn.Embedding(3, 2)
    opt = RowWiseAdagrad([table.weight], lr=0.5)
    w0 = table.weight.detach().clone()
    table(torch.tensor([1])).sum().backward()
    opt.step()
    changed = (table.weight.detach() != w0).any(dim=1)
    assert changed.tolist() == [False, True, False]
    with pytest.raises(ValueError, match="2-D"):
        RowWiseAdagrad([nn.Parameter(torch.zeros(3))])


@pytest.mark.parametrize("name", EMBEDDING_OPTIMIZERS.names)
def test_every_embedding_optimizer_updates_only_the_rows_a_batch_used(name: str) -> None:
    table = _sparse_table()
    w0 = table.weight.detach().clone()
    config = EMBEDDING_OPTIMIZERS.get(name)(learning_rate=0.05)
    opt = config.build([table.weight], default_lr=1.0)
    assert opt.param_groups[0]["lr"] == 0.05  # its own learning rate, not the default
    _lookup(table, [1, 4])
    opt.step()
    changed = (table.weight.detach() != w0).any(dim=1).tolist()
    assert changed == [False, True, False, False, True, False]
    assert EMBEDDING_OPTIMIZERS.get(name)().build([table.weight], 0.2).param_groups[0]["lr"] == 0.2


def test_the_loop_builds_the_configured_embedding_optimizer(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(256)
    model = _ranker(data)
    for config, kind in (
        (AdagradConfig(), torch.optim.Adagrad),
        (RowWiseAdagradConfig(learning_rate=0.07), RowWiseAdagrad),
    ):
        opts = make_optimizers(model, _train(embeddings=EmbeddingTraining(optimizer=config)))
        assert isinstance(opts[0], kind)
        assert isinstance(opts[1], torch.optim.AdamW)
        assert {id(p) for p in opts[0].param_groups[0]["params"]} == {
            id(t.weight) for t in id_tables(model)
        }
    assert opts[0].param_groups[0]["lr"] == 0.07


# --- the regularisers ---------------------------------------------------------------------------


def test_row_l2_adds_to_the_gradient_of_the_rows_the_batch_used_only() -> None:
    table = _sparse_table()
    _lookup(table, [1, 4, 1])
    plain = table.weight.grad.coalesce().to_dense().clone()  # type: ignore[union-attr]
    add_row_l2([table], 0.5)
    grad = table.weight.grad
    assert grad is not None and grad.is_sparse
    dense = grad.to_dense()
    w = table.weight.detach()
    for row in range(6):
        if row in (1, 4):  # data gradient + 2 * l2 * w, once however often the row was used
            assert torch.allclose(dense[row], plain[row] + w[row], atol=1e-7)
        else:
            assert torch.equal(dense[row], torch.zeros(3))


def test_l2_in_a_training_step_leaves_the_rows_outside_the_batch_untouched(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(256)
    batch = next(iter(make_loader(data.train, 16, shuffle=False)))
    moved: list[torch.Tensor] = []
    for l2 in (0.0, 1.0):
        model = _ranker(data)
        tables = id_tables(model)
        w0 = _tables(model)
        cfg = _train(embeddings=EmbeddingTraining(l2=l2))
        train_step(model, batch, make_optimizers(model, cfg), rows=RowRegularizer(tables, l2))
        used = [(t.weight.detach() != w).any(dim=1) for t, w in zip(tables, w0, strict=True)]
        moved.append(torch.cat([t.weight.detach()[u] for t, u in zip(tables, used, strict=True)]))
        # Only looked-up rows moved; every other row is bit-identical.
        for t, w, u in zip(tables, w0, used, strict=True):
            assert torch.equal(t.weight.detach()[~u], w[~u])
    assert not torch.equal(moved[0], moved[1])  # the penalty changed the used rows' step


def test_max_norm_holds_after_every_step(make_dataset: Callable[..., EncodedDataset]) -> None:
    data = make_dataset(512)
    model = _ranker(data)
    bound = 0.05
    cfg = _train(embedding_learning_rate=0.5, embeddings=EmbeddingTraining(max_norm=bound))
    tables = id_tables(model)
    opts = make_optimizers(model, cfg)
    rows = RowRegularizer(tables, max_norm=bound)
    grew = False
    for batch in make_loader(data.train, 64, shuffle=True, seed=0):
        before = [t.weight.detach().norm(dim=1).max() for t in tables]
        train_step(model, batch, opts, rows=rows)
        for t in tables:
            assert float(t.weight.detach().norm(dim=1).max()) <= bound * (1 + 1e-5)
        grew |= any(float(b) < bound * 0.99 for b in before)
    # The bound bites: without it the rows outgrow it at this learning rate.
    free = _ranker(data)
    free_opts = make_optimizers(free, _train(embedding_learning_rate=0.5))
    for batch in make_loader(data.train, 64, shuffle=True, seed=0):
        train_step(free, batch, free_opts)
    assert max(float(t.weight.detach().norm(dim=1).max()) for t in id_tables(free)) > 2 * bound
    assert grew


def test_max_norm_applies_from_the_start_of_a_fit(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(256)
    model = _ranker(data)
    with torch.no_grad():
        for t in id_tables(model):
            t.weight.mul_(100.0)
    fit(
        model,
        data,
        _train(max_epochs=1, embeddings=EmbeddingTraining(max_norm=0.1)),
        TrainContext(),
    )
    assert all(
        float(t.weight.detach().norm(dim=1).max()) <= 0.1 * (1 + 1e-5) for t in id_tables(model)
    )


def test_embedding_dropout_acts_in_training_only_and_is_removed_after_the_fit(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(256)
    model = _ranker(data)
    embedding = model.tokenizer.embedding  # type: ignore[union-attr]
    ids = torch.as_tensor(data.valid.x_cat[:32]).long()
    handle = embedding_dropout(embedding, 0.5)
    assert handle is not None and embedding_dropout(embedding, 0.0) is None
    embedding.train()
    dropped = embedding(ids)
    assert float((dropped == 0).float().mean()) == pytest.approx(0.5, abs=0.1)
    embedding.eval()
    assert torch.equal(embedding(ids), embedding(ids))
    handle.remove()
    cfg = _train(max_epochs=1, embeddings=EmbeddingTraining(dropout=0.3))
    result = fit(model, data, cfg, TrainContext())
    assert "ID dropout 0.3" in result.notes
    embedding.train()
    assert bool((embedding(ids) != 0).all())  # no hook left behind


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match="l2"):
        EmbeddingTraining(l2=-1.0)
    with pytest.raises(ValueError, match="max_norm"):
        EmbeddingTraining(max_norm=-0.1)
    with pytest.raises(ValueError, match="dropout"):
        EmbeddingTraining(dropout=1.0)
    with pytest.raises(ValueError, match="after_epochs"):
        FreezeConfig(after_epochs=0)
    with pytest.raises(ValueError, match="learning_rate"):
        RowWiseAdagradConfig(learning_rate=0.0)
    with pytest.raises(ValueError, match="evals_per_epoch"):
        TrainConfig(evals_per_epoch=0)


# --- the loop: points within an epoch, pre-training -------------------------------------------


def test_several_evaluations_per_epoch_give_points_ending_at_each_epoch_end(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(1024)
    result = fit(_ranker(data), data, _train(max_epochs=2, evals_per_epoch=4), TrainContext())
    assert len(result.curve) == 2
    for m in result.curve:
        positions = [at for at, _ in m.evals]
        assert positions == [m.epoch - 1 + k / 4 for k in range(1, 5)]
        assert m.evals[-1][1] == m.valid.auc
        assert all(0.0 <= auc <= 1.0 for _, auc in m.evals)
    plain = fit(_ranker(data), data, _train(max_epochs=1), TrainContext())
    assert plain.curve[0].evals == ()


def test_pretrained_then_frozen_tables_reach_the_ranker_and_stay(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(512)
    model = _ranker(data)
    initial = _tables(model)
    ends: list[list[torch.Tensor]] = []
    cfg = _train(
        max_epochs=2,
        patience=2,
        pretrain=PretrainConfig(epochs=1, batch_size=128, learning_rate=1e-2, then="freeze"),
    )
    result = fit(model, data, cfg, TrainContext(on_epoch=lambda _m: ends.append(_tables(model))))
    embedding_tables = {id(t.weight) for t in id_tables(model.tokenizer.embedding)}  # type: ignore[union-attr,arg-type]
    for t, w0, w1, w2 in zip(id_tables(model), initial, ends[0], ends[1], strict=True):
        if id(t.weight) in embedding_tables:
            assert not torch.equal(w0, w1)  # pre-training moved them
            assert torch.equal(w1, w2)  # then frozen: the ranker did not
    assert "ID pre-training: 1 epoch" in result.notes and "then frozen" in result.notes


def test_a_training_step_with_a_batch_keeps_working_without_remedies(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(64)
    model = _ranker(data)
    batch: Batch = next(iter(make_loader(data.train, 8, shuffle=False)))
    loss = train_step(model, batch, make_optimizers(model, _train()))
    assert math.isfinite(float(loss))
    assert replace(_train(), evals_per_epoch=2).evals_per_epoch == 2
