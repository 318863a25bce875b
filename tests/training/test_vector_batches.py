"""Dense vector features (``x_vec``) through batches, the loader and the training stages.

``Batch`` checks, moves and pins them; both loader modes keep each row's vector with its label
through shuffling (and read memory-mapped ones as float32); a split without them gives batches
without them. The training loop, scoring, contrastive pre-training (which leaves them alone)
and distillation (whose teacher column rides beside them) all run on data that has them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch

from harness.data.schema import EncodedSplit
from harness.families.neural import NeuralConfig, build_ranker
from harness.fitting import TrainContext
from harness.models import Batch, MLPConfig, Ranker, RankerConfig, TokenizerConfig
from harness.models.interactions import DotConfig
from harness.models.tokenizer import VectorInputs
from harness.training import LoaderMode, TrainConfig, fit, make_loader, predict
from harness.training.distill import DistillConfig, prepare_distillation, teacher_files
from harness.training.loop import forward
from harness.training.pretrain import PretrainConfig, pretrain_embeddings
from tests.models.vector_data import WIDTHS, vector_dataset

WIDTH = 5


def _split(n: int, x_vec_dtype: type = np.float64) -> EncodedSplit:
    # Row i: x_cat = (i, i), x_vec = (i, -i, 2i, ...), y = i % 2: a batch says which rows it has.
    ids = np.arange(n)
    scale = np.array([1.0, -1.0, 2.0, -2.0, 3.0])
    return EncodedSplit(
        x_num=np.stack([ids, -ids], axis=1).astype(np.float32),
        x_cat=np.stack([ids, ids], axis=1).astype(np.int32),
        y=(ids % 2).astype(np.float32).reshape(-1, 1),
        x_vec=(ids[:, None] * scale).astype(x_vec_dtype),
    )


def _memmapped(tmp_path: Path, split: EncodedSplit) -> EncodedSplit:
    arrays = {}
    for name in ("x_num", "x_cat", "y", "x_vec"):
        np.save(tmp_path / f"{name}.npy", getattr(split, name))
        arrays[name] = np.load(tmp_path / f"{name}.npy", mmap_mode="r")
    return EncodedSplit(**arrays)


def _check_rows(batches: list[Batch], n: int) -> None:
    rows = [int(v) for b in batches for v in b.x_cat[:, 0]]
    assert sorted(rows) == list(range(n))
    for b in batches:
        assert b.x_vec is not None and b.x_vec.dtype == torch.float32
        assert b.x_vec.shape == (len(b), WIDTH)
        ids = b.x_cat[:, 0].float()
        assert torch.equal(b.x_vec[:, 0], ids) and torch.equal(b.x_vec[:, 3], -2 * ids)
        assert torch.equal(b.y[:, 0], (b.x_cat[:, 0] % 2).float())


@pytest.mark.parametrize("mode", ["memory", "blocks"])
@pytest.mark.parametrize("memmapped", [False, True], ids=["ram", "memmap"])
def test_vectors_follow_their_rows_through_shuffling(
    tmp_path: Path, mode: LoaderMode, memmapped: bool
) -> None:
    split = _split(103)
    if memmapped:
        split = _memmapped(tmp_path, split)
    loader = make_loader(split, 10, shuffle=True, seed=0, mode=mode, block_rows=25)
    assert loader.mode == mode
    for _ in range(2):
        batches = list(loader)
        assert [int(v) for v in batches[0].x_cat[:, 0]] != list(range(10))  # shuffled
        _check_rows(batches, 103)
    ordered = list(make_loader(split, 10, shuffle=False, mode=mode, block_rows=25))
    _check_rows(ordered, 103)
    assert [int(v) for b in ordered for v in b.x_cat[:, 0]] == list(range(103))


@pytest.mark.parametrize("mode", ["memory", "blocks"])
def test_a_split_without_vectors_gives_batches_without_them(mode: LoaderMode) -> None:
    split = _split(40)
    plain = EncodedSplit(split.x_num, split.x_cat, split.y)
    loader = make_loader(plain, 16, shuffle=True, mode=mode, block_rows=16)
    assert all(b.x_vec is None for b in loader)
    if mode == "memory":
        assert loader._rows is not None and loader._rows.x_vec is None


def test_memory_mode_shares_float32_vectors_with_torch() -> None:
    split = _split(64, np.float32)
    loader = make_loader(split, 16, shuffle=True, mode="memory")
    assert loader._rows is not None and loader._rows.x_vec is not None
    assert split.x_vec is not None
    assert loader._rows.x_vec.data_ptr() == split.x_vec.ctypes.data  # no copy


def _batch(x_vec: bool = True) -> Batch:
    return Batch(
        torch.zeros(4, 3),
        torch.zeros(4, 2, dtype=torch.int32),
        torch.zeros(4, 1),
        torch.zeros(4, WIDTH) if x_vec else None,
    )


def test_batch_rejects_vectors_of_other_rows_or_rank() -> None:
    with pytest.raises(ValueError, match="rows differ"):
        Batch(torch.zeros(4, 3), torch.zeros(4, 2), torch.zeros(4, 1), torch.zeros(3, WIDTH))
    with pytest.raises(ValueError, match="rows differ"):
        Batch(torch.zeros(4, 3), torch.zeros(4, 2), torch.zeros(4, 1), torch.zeros(4))


@pytest.mark.parametrize("x_vec", [True, False], ids=["vectors", "none"])
def test_batch_to_and_pin_memory_carry_the_vectors(x_vec: bool) -> None:
    b = _batch(x_vec)
    assert b.to("cpu") is b
    moved = torch.ones(4, 1)
    with mock.patch.object(torch.Tensor, "to", return_value=moved) as to:
        out = b.to("cuda", non_blocking=True)
    assert to.call_count == (4 if x_vec else 3)
    assert all(c.kwargs == {"non_blocking": True} for c in to.call_args_list)
    assert (out.x_vec is moved) if x_vec else (out.x_vec is None)
    with mock.patch.object(torch.Tensor, "pin_memory", return_value=moved) as pin:
        pinned = b.pin_memory()
    assert pin.call_count == (4 if x_vec else 3)
    assert (pinned.x_vec is moved) if x_vec else (pinned.x_vec is None)


def test_a_batch_whose_vectors_alone_are_elsewhere_is_moved() -> None:
    b = Batch(torch.zeros(2, 1), torch.zeros(2, 1), torch.zeros(2, 1), torch.zeros(2, 3))
    on_meta = Batch(b.x_num, b.x_cat, b.y, torch.zeros(2, 3, device="meta"))
    with mock.patch.object(torch.Tensor, "to", return_value=torch.ones(2, 1)) as to:
        out = on_meta.to("cpu")
    assert out is not on_meta and to.call_count == 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batch_with_vectors_pinned_round_trip_to_cuda() -> None:
    b = Batch(torch.zeros(4, 3), torch.zeros(4, 2), torch.zeros(4, 1), torch.randn(4, WIDTH))
    pinned = b.pin_memory()
    assert pinned.x_vec is not None and pinned.x_vec.is_pinned()
    out = pinned.to("cuda", non_blocking=True)
    assert out.x_vec is not None and out.x_vec.device.type == "cuda"
    back = out.to("cpu").x_vec
    assert back is not None and b.x_vec is not None and torch.equal(back, b.x_vec)


# --- the training stages ----------------------------------------------------------------------

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MODEL = RankerConfig(
    tokenizer=TokenizerConfig(embedding_dim=8, numeric_tokens="mlp", bottom_dims=(8,)),
    interaction=DotConfig(),
    backbone=MLPConfig(dims=(32,)),
)
CPU = torch.device("cpu")


def _train(**kw: Any) -> TrainConfig:
    return replace(TrainConfig(batch_size=128, max_epochs=2, patience=2), **kw)


def test_forward_passes_x_vec_only_when_the_batch_has_it() -> None:
    seen: list[int] = []

    def two(x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        seen.append(2)
        return x_num[:, :1]

    def three(x_num: torch.Tensor, x_cat: torch.Tensor, x_vec: torch.Tensor) -> torch.Tensor:
        seen.append(3)
        return x_vec[:, :1]

    forward(two, _batch(x_vec=False))  # type: ignore[arg-type]
    forward(three, _batch())  # type: ignore[arg-type]
    assert seen == [2, 3]


@pytest.mark.parametrize("loader", ["memory", "blocks"])
def test_fit_and_predict_read_the_vectors(loader: LoaderMode) -> None:
    data = vector_dataset(1024, 256)
    train = _train(loader=loader, block_rows=256, evals_per_epoch=2, learning_rate=3e-3)
    torch.manual_seed(0)
    model = build_ranker(NeuralConfig(model=MODEL, train=train), data)
    result = fit(model, data, train, TrainContext())
    assert result.valid.auc > 0.6  # the signal is in the vectors only (measured: 0.69)
    probs = predict(model, data.test, CPU)
    assert probs.shape == (data.test.n_rows, 1)
    assert result.test_scores is not None
    assert np.allclose(probs[:, 0], result.test_scores, atol=1e-6)


def test_pretraining_leaves_the_vectors_out_and_the_ranker_trains_after_it() -> None:
    data = vector_dataset(512, 128)
    torch.manual_seed(0)
    model = build_ranker(NeuralConfig(model=MODEL), data)
    assert isinstance(model, Ranker)
    vectors = [m for m in model.modules() if isinstance(m, VectorInputs)]
    before = {k: v.clone() for k, v in vectors[0].state_dict().items()}
    embedding = model.tokenizer.embedding
    assert embedding is not None
    with mock.patch("harness.training.pretrain.make_loader", wraps=make_loader) as made:
        report = pretrain_embeddings(
            embedding, data.train, PretrainConfig(epochs=1, batch_size=128), device=CPU, seed=0
        )
    assert report.losses and np.isfinite(report.losses[0])
    split = made.call_args.args[0]
    assert split.x_vec is None and split.n_rows == data.train.n_rows  # ids only, no copy
    for k, v in vectors[0].state_dict().items():
        assert torch.equal(v, before[k]), f"pre-training moved {k}"
    train = _train(pretrain=PretrainConfig(epochs=1, batch_size=128))
    result = fit(model, data, train, TrainContext())
    assert "ID pre-training" in result.notes


def test_distillation_keeps_the_vectors_beside_the_teachers_column(tmp_path: Path) -> None:
    data = vector_dataset(512, 128)
    assert data.train.x_vec is not None
    teacher = np.asarray(data.train.y[:, 0] * 0.8 + 0.1, dtype=np.float32)
    path, _ = teacher_files(tmp_path, "t")
    np.save(path, teacher)
    distill = DistillConfig(teacher="t", weight=0.5, auxiliary_head=True)
    ctx = TrainContext(teachers_dir=str(tmp_path))
    student = prepare_distillation(distill, data, ctx, None)
    assert student.train.x_vec is data.train.x_vec
    train = _train(distill=distill)
    torch.manual_seed(0)
    model = build_ranker(NeuralConfig(model=MODEL, train=train), data)
    result = fit(model, data, train, ctx)
    assert "auxiliary head" in result.notes
    assert predict(model, data.test, CPU).shape == (data.test.n_rows, 1)
    assert data.schema.vector_width == sum(WIDTHS)
