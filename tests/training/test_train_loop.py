"""``fit``: learns a planted interaction, early-stops and restores, reports, is deterministic."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from harness.data.schema import EncodedDataset, EncodedSplit
from harness.errors import HarnessError
from harness.families.neural import NeuralConfig, build_ranker
from harness.fitting import EpochMetrics, TrainContext
from harness.models import FusedEmbedding, MLPConfig, RankerConfig, TokenizerConfig
from harness.models.interactions import CrossConfig
from harness.training import DivergedError, TrainConfig, fit, make_optimizers, predict

SMALL = NeuralConfig(
    model=RankerConfig(
        tokenizer=TokenizerConfig(embedding_dim=8),
        interaction=CrossConfig(layers=2),
        backbone=MLPConfig(dims=(32, 16)),
    ),
    train=TrainConfig(batch_size=128),
)


def _model(data: EncodedDataset, config: NeuralConfig = SMALL, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_ranker(config, data)


def _train_config(**kw: object) -> TrainConfig:
    base = {
        "batch_size": 128,
        "max_epochs": 4,
        "patience": 4,
        "learning_rate": 1e-2,
        "embedding_learning_rate": 3e-2,
    }
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_learns_a_planted_pairwise_interaction(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    # The label is parity(c0) XOR parity(c1): only a model of the pair can rank it.
    data = make_dataset(2048)
    epochs: list[EpochMetrics] = []
    result = fit(_model(data), data, _train_config(), TrainContext(on_epoch=epochs.append))
    assert result.valid.auc > 0.9
    assert result.test.auc > 0.9
    assert result.test.logloss < 0.5
    assert [m.epoch for m in epochs] == list(range(1, len(epochs) + 1))
    assert result.curve == tuple(epochs)
    assert all(m.train_loss is not None and m.seconds > 0 for m in epochs)
    assert result.n_params == sum(p.numel() for p in _model(data).parameters())
    assert all(m.n_params == result.n_params for m in result.curve)  # a stopped trial has it
    assert result.samples_per_s is not None and result.samples_per_s > 0
    assert result.train_seconds > 0


def test_early_stopping_stops_and_restores_the_best_epoch(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    # Validation labels are the flipped training labels: the better the model fits train, the
    # worse its validation AUC, so epoch 1 is best and patience 1 stops after epoch 2.
    data = make_dataset(2048, flip_valid=True)
    epochs: list[EpochMetrics] = []
    cfg = _train_config(max_epochs=6, patience=1)
    result = fit(_model(data), data, cfg, TrainContext(on_epoch=epochs.append))
    assert [m.epoch for m in epochs] == [1, 2]
    assert epochs[1].valid.auc < epochs[0].valid.auc
    assert result.best_epoch == 1
    assert result.valid == epochs[0].valid
    # Test is the validation split, so scoring it reproduces epoch 1 only with epoch 1's weights.
    assert result.test.auc == pytest.approx(epochs[0].valid.auc, abs=1e-12)
    assert result.test.logloss == pytest.approx(epochs[0].valid.logloss, rel=1e-6)
    # Test is scored when an epoch becomes the best so far, and only then: a trial stopped
    # after epoch 2 by a scheduler would still report epoch 1's test score.
    assert epochs[0].test == result.test
    assert epochs[1].test is None


def test_patience_waits_for_improvement(make_dataset: Callable[..., EncodedDataset]) -> None:
    data = make_dataset(2048, flip_valid=True)
    epochs: list[EpochMetrics] = []
    cfg = _train_config(max_epochs=6, patience=3)
    result = fit(_model(data), data, cfg, TrainContext(on_epoch=epochs.append))
    assert result.best_epoch == 1
    assert len(epochs) == 4


def test_fit_is_deterministic_for_a_seed(make_dataset: Callable[..., EncodedDataset]) -> None:
    data = make_dataset(1024)
    cfg = _train_config(max_epochs=2)

    def run(seed: int) -> tuple[float, ...]:
        r = fit(_model(data, seed=seed), data, cfg, TrainContext(seed=seed))
        return tuple(x for m in r.curve for x in (m.valid.auc, m.valid.logloss, m.train_loss or 0))

    first = run(7)
    assert run(7) == first
    assert run(8) != first


def test_dropout_model_is_deterministic_and_scored_in_eval_mode(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(512)
    dropout = replace(SMALL.model, backbone=MLPConfig(dims=(32, 16), dropout=0.5))
    model = _model(data, replace(SMALL, model=dropout))
    fit(model, data, _train_config(max_epochs=1), TrainContext(seed=1))
    p1 = predict(model, data.valid, torch.device("cpu"))
    p2 = predict(model, data.valid, torch.device("cpu"))
    assert p1.shape == (data.valid.n_rows, 1)
    np.testing.assert_array_equal(p1, p2)
    assert not model.training


def test_optimisers_split_sparse_and_dense_parameters(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    model = _model(make_dataset(64))
    opts = make_optimizers(model, _train_config(weight_decay=0.1))
    assert [type(o).__name__ for o in opts] == ["SparseAdam", "AdamW"]
    sparse = opts[0].param_groups[0]["params"]
    emb = next(m for m in model.modules() if isinstance(m, FusedEmbedding))
    assert sparse == [emb.table.weight]
    assert opts[0].param_groups[0]["lr"] == 3e-2
    dense_ids = {id(p) for p in opts[1].param_groups[0]["params"]}
    assert dense_ids == {id(p) for p in model.parameters()} - {id(emb.table.weight)}
    assert opts[1].param_groups[0]["weight_decay"] == 0.1


def test_sparse_step_updates_only_looked_up_embedding_rows(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(64)
    emb = FusedEmbedding((6, 6), 4)
    before = emb.table.weight.detach().clone()
    (opt,) = make_optimizers(emb, _train_config())
    x = torch.tensor([[0, 1], [2, 1]])
    emb(x).sum().backward()
    opt.step()
    changed = (emb.table.weight != before).any(dim=1).nonzero().flatten().tolist()
    assert changed == [0, 2, 6 + 1]
    assert data.train.n_rows == 64


def test_diverging_loss_raises(make_dataset: Callable[..., EncodedDataset]) -> None:
    data = make_dataset(256)
    bad = EncodedSplit(data.train.x_num, data.train.x_cat, np.full_like(data.train.y, np.nan))
    with pytest.raises(DivergedError, match="epoch 1"):
        fit(_model(data), replace(data, train=bad), _train_config(), TrainContext())


def test_one_class_validation_split_still_fits(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(256)
    valid = EncodedSplit(data.valid.x_num, data.valid.x_cat, np.zeros_like(data.valid.y))
    result = fit(
        _model(data), replace(data, valid=valid), _train_config(max_epochs=2), TrainContext()
    )
    assert math.isnan(result.valid.auc)
    assert result.best_epoch == 1


def test_cuda_device_without_cuda_is_a_clear_error(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    data = make_dataset(64)
    with pytest.raises(HarnessError, match=r"'cuda'.*no CUDA"):
        fit(_model(data), data, _train_config(), TrainContext(device="cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_on_cuda(make_dataset: Callable[..., EncodedDataset]) -> None:
    data = make_dataset(1024)
    model = _model(data)
    result = fit(model, data, _train_config(max_epochs=1), TrainContext(device="cuda"))
    assert next(model.parameters()).device.type == "cuda"
    assert result.valid.auc > 0.5


def test_progress_display_runs(make_dataset: Callable[..., EncodedDataset]) -> None:
    data = make_dataset(256)
    result = fit(_model(data), data, _train_config(max_epochs=1), TrainContext(show_progress=True))
    assert len(result.curve) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"patience": 0}, "patience"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"loader": "disk"}, "loader"),
    ],
)
def test_train_config_rejects_bad_values(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)  # type: ignore[arg-type]


def test_divergence_stops_mid_epoch(
    make_dataset: Callable[..., EncodedDataset], monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.training import loop, make_loader, train_epoch

    monkeypatch.setattr(loop, "_CHECK_EVERY", 2)
    data = make_dataset(64)
    bad = EncodedSplit(data.train.x_num, data.train.x_cat, np.full_like(data.train.y, np.nan))
    loader = make_loader(bad, 8, shuffle=False)
    seen: list[int] = []
    original = loader.__class__.__iter__

    def counting(self: object) -> object:
        for b in original(self):  # type: ignore[arg-type]
            seen.append(len(b))
            yield b

    monkeypatch.setattr(loader.__class__, "__iter__", counting)
    model = _model(data)
    with pytest.raises(DivergedError, match="after 16 rows"):
        train_epoch(model, loader, make_optimizers(model, _train_config()), torch.device("cpu"))
    assert len(seen) == 2  # of 8 batches


def test_training_imports_before_the_family_registry() -> None:
    # harness.training sits below the families (it imports harness.fitting, not them); the
    # family registry imports every family, the neural one and so harness.training among them.
    import subprocess
    import sys

    code = "import harness.training, harness.families.neural"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


def test_task_weights_weigh_each_task_loss() -> None:
    from harness.training.loop import task_loss

    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    per_element = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
    a, b = per_element.mean(dim=0).tolist()
    assert float(task_loss(logits, y)) == pytest.approx((a + b) / 2)
    weighted = task_loss(logits, y, torch.tensor([3.0, 1.0]))
    assert float(weighted) == pytest.approx((3 * a + b) / 4)
    assert float(task_loss(logits, y, torch.tensor([1.0, 0.0]))) == pytest.approx(a)


def test_fit_scores_every_task(make_dataset: Callable[..., EncodedDataset]) -> None:
    data = make_dataset(2048)
    # Two tasks: the planted label and its complement.
    two = {
        name: replace(split, y=np.concatenate([split.y, 1.0 - split.y], axis=1))
        for name, split in (("train", data.train), ("valid", data.valid))
    }
    both = replace(
        data,
        schema=replace(data.schema, labels=("label", "flipped")),
        train=two["train"],
        valid=two["valid"],
        test=two["valid"],
    )
    result = fit(_model(both), both, _train_config(), TrainContext(seed=0))
    assert len(result.valid_tasks) == len(result.test_tasks) == 2
    assert result.valid == result.valid_tasks[0]
    assert result.test_tasks[0].auc > 0.9 and result.test_tasks[1].auc > 0.9
    assert all(len(m.valid_tasks) == 2 for m in result.curve)
