"""Exact values and properties of the individual blocks, the ranker and ``Batch``."""

from __future__ import annotations

import math
from unittest import mock

import pytest
import torch
from torch import nn

from harness.models import (
    MLP,
    Batch,
    CrossNetV2,
    DCNv2Ranker,
    FusedEmbedding,
    Log1p,
)

# --- Log1p --------------------------------------------------------------------------------------


def test_log1p_known_values() -> None:
    x = torch.tensor([[0.0, 1.0, -1.0, math.e - 1.0, float("nan")]])
    out = Log1p(5, missing_indicator=False)(x)
    expected = [0.0, math.log(2.0), -math.log(2.0), 1.0, 0.0]
    assert out.shape == (1, 5, 1)
    assert out[0, :, 0].tolist() == pytest.approx(expected)


def test_log1p_missing_indicator_channel() -> None:
    x = torch.tensor([[float("nan"), 3.0], [-3.0, float("nan")]])
    out = Log1p(2, missing_indicator=True)(x)
    assert out[..., 1].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    values = out[..., 0].flatten().tolist()
    assert values == pytest.approx([0.0, math.log(4.0), -math.log(4.0), 0.0])


def test_log1p_rejects_negative_width() -> None:
    with pytest.raises(ValueError, match="n_features=-1"):
        Log1p(-1)


# --- FusedEmbedding -----------------------------------------------------------------------------


def test_fused_embedding_offsets_match_manual_lookup() -> None:
    cards = (3, 5, 2)
    emb = FusedEmbedding(cards, 4)
    assert emb.offsets.tolist() == [0, 3, 8]
    assert emb.table.weight.shape == (10, 4)
    x = torch.tensor([[2, 0, 1], [0, 4, 0]], dtype=torch.int32)
    out = emb(x)
    w = emb.table.weight
    for i in range(2):
        for j, offset in enumerate((0, 3, 8)):
            assert torch.equal(out[i, j], w[offset + int(x[i, j])])


def test_fused_embedding_sparse_gradient_touches_only_looked_up_rows() -> None:
    emb = FusedEmbedding((4, 6), 3, sparse=True)
    x = torch.tensor([[1, 2], [1, 5]])
    emb(x).sum().backward()
    grad = emb.table.weight.grad
    assert grad is not None and grad.is_sparse
    rows = sorted(set(grad.coalesce().indices()[0].tolist()))
    assert rows == [1, 4 + 2, 4 + 5]
    dense = grad.to_dense()
    assert dense[1].tolist() == [2.0, 2.0, 2.0]  # feature 0 id 1, looked up twice
    untouched = [r for r in range(10) if r not in rows]
    assert dense[untouched].abs().sum() == 0


def test_fused_embedding_rejects_out_of_range_ids() -> None:
    emb = FusedEmbedding((4, 6), 3)
    with pytest.raises(ValueError, match="feature 0: id 4 outside"):
        emb(torch.tensor([[4, 0]]))
    with pytest.raises(ValueError, match="feature 1: id -1 outside"):
        emb(torch.tensor([[0, -1]]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cardinalities": (), "dim": 4}, "cardinalities"),
        ({"cardinalities": (3, 0), "dim": 4}, "cardinalities"),
        ({"cardinalities": (3,), "dim": 0}, "dim=0"),
        ({"cardinalities": (3,), "dim": 2, "init_std": 0.0}, "init_std"),
    ],
)
def test_fused_embedding_rejects_bad_args(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FusedEmbedding(**kwargs)  # type: ignore[arg-type]


# --- CrossNetV2 ---------------------------------------------------------------------------------


def test_cross_zero_weights_is_identity_plus_x0_times_bias() -> None:
    net = CrossNetV2(3, 1)
    layer = net.layers[0]
    assert isinstance(layer, nn.Linear)
    nn.init.zeros_(layer.weight)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([1.0, 2.0, 3.0]))
    x = torch.tensor([[1.0, -1.0, 2.0]])
    # x1 = x0 * (0 x0 + b) + x0
    assert net(x).tolist() == [[2.0, -3.0, 8.0]]


def test_cross_identity_weights_known_formula() -> None:
    net = CrossNetV2(2, 2)
    for layer in net.layers:
        assert isinstance(layer, nn.Linear)
        with torch.no_grad():
            layer.weight.copy_(torch.eye(2))
            layer.bias.zero_()
    x0 = torch.tensor([[2.0, -1.0]])
    x1 = x0 * x0 + x0  # [[6, 0]]
    x2 = x0 * x1 + x1  # [[18, 0]]
    assert torch.equal(net(x0), x2)
    assert net(x0).tolist() == [[18.0, 0.0]]


def test_cross_low_rank_with_rank_d_equals_full_rank_with_w_uvt() -> None:
    torch.manual_seed(0)
    d = 5
    low = CrossNetV2(d, 2, rank=d)
    full = CrossNetV2(d, 2)
    with torch.no_grad():
        for lo, fu in zip(low.layers, full.layers, strict=True):
            up, down = lo.get_submodule("up"), lo.get_submodule("down")
            assert isinstance(fu, nn.Linear)
            assert isinstance(up, nn.Linear) and isinstance(down, nn.Linear)
            # up.weight is U (d, r), down.weight is V^T (r, d).
            fu.weight.copy_(up.weight @ down.weight)
            fu.bias.copy_(up.bias)
    x = torch.randn(7, d)
    torch.testing.assert_close(low(x), full(x), rtol=1e-5, atol=1e-5)


def test_cross_low_rank_has_fewer_parameters() -> None:
    full = sum(p.numel() for p in CrossNetV2(100, 3).parameters())
    low = sum(p.numel() for p in CrossNetV2(100, 3, rank=8).parameters())
    assert full == 3 * (100 * 100 + 100)
    assert low == 3 * (2 * 100 * 8 + 100)


def test_cross_zero_layers_is_identity() -> None:
    x = torch.randn(4, 6)
    assert torch.equal(CrossNetV2(6, 0)(x), x)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((4, -1), {}, "n_layers=-1"),
        ((4, 2), {"rank": 0}, "rank=0"),
        ((4, 2), {"rank": 5}, "rank=5"),
    ],
)
def test_cross_rejects_bad_args(args: tuple[int, int], kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CrossNetV2(*args, **kwargs)


# --- MLP ----------------------------------------------------------------------------------------


def test_mlp_layers_and_identity() -> None:
    mlp = MLP(6, (8, 3), dropout=0.5, activation="gelu")
    kinds = [type(m).__name__ for m in mlp.blocks]
    assert kinds == ["Linear", "GELU", "Dropout", "Linear", "GELU", "Dropout"]
    ident = MLP(6, ())
    x = torch.randn(2, 6)
    assert ident.d_out == 6 and torch.equal(ident(x), x)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dims": (4, 0)}, "dims"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"activation": "tanhh"}, "activation='tanhh'"),
    ],
)
def test_mlp_rejects_bad_args(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MLP(4, **kwargs)  # type: ignore[arg-type]


# --- DCNv2Ranker --------------------------------------------------------------------------------


def _ranker(n_num: int = 3, cards: tuple[int, ...] = (5, 7), dim: int = 4) -> DCNv2Ranker:
    numeric = Log1p(n_num, missing_indicator=True)
    d = n_num * 2 + len(cards) * dim
    cross = CrossNetV2(d, 2)
    mlp = MLP(d, (8,))
    return DCNv2Ranker(numeric, FusedEmbedding(cards, dim), cross, mlp, nn.Linear(8, 2))


def test_ranker_returns_logits_per_task() -> None:
    model = _ranker()
    x_num = torch.tensor([[1.0, float("nan"), -2.0]] * 4)
    x_cat = torch.tensor([[0, 6]] * 4)
    out = model(x_num, x_cat)
    assert out.shape == (4, 2) and torch.isfinite(out).all()
    assert model.d_input == 3 * 2 + 2 * 4


def test_ranker_without_categorical_features() -> None:
    model = DCNv2Ranker(
        Log1p(3, missing_indicator=False), None, CrossNetV2(3, 1), MLP(3, (4,)), nn.Linear(4, 1)
    )
    assert model(torch.randn(2, 3), torch.zeros(2, 0, dtype=torch.int64)).shape == (2, 1)


def test_ranker_rejects_mismatched_widths() -> None:
    with pytest.raises(ValueError, match="d_input=14"):
        DCNv2Ranker(
            Log1p(3), FusedEmbedding((5, 7), 4), CrossNetV2(13, 1), MLP(13), nn.Linear(256, 1)
        )
    with pytest.raises(ValueError, match=r"head\.in_features=7"):
        DCNv2Ranker(Log1p(3), FusedEmbedding((5, 7), 4), CrossNetV2(14), MLP(14), nn.Linear(7, 1))


# --- Batch --------------------------------------------------------------------------------------


def _batch() -> Batch:
    return Batch(torch.zeros(4, 3), torch.zeros(4, 2, dtype=torch.int32), torch.zeros(4, 1))


def test_batch_to_same_device_is_a_no_op() -> None:
    b = _batch()
    assert b.to("cpu") is b
    assert len(b) == 4


def test_batch_to_moves_every_tensor_with_non_blocking() -> None:
    b = _batch()
    moved = torch.ones(1)
    with mock.patch.object(torch.Tensor, "to", return_value=moved) as to:
        out = b.to("cuda", non_blocking=True)
    assert to.call_count == 3
    for call in to.call_args_list:
        assert call.args == (torch.device("cuda"),)
        assert call.kwargs == {"non_blocking": True}
    assert out.x_num is moved and out.x_cat is moved and out.y is moved


def test_batch_rejects_row_mismatch() -> None:
    with pytest.raises(ValueError, match="rows differ"):
        Batch(torch.zeros(4, 3), torch.zeros(3, 2), torch.zeros(4, 1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batch_pinned_round_trip_to_cuda() -> None:
    b = _batch().pin_memory()
    assert b.x_num.is_pinned()
    out = b.to("cuda", non_blocking=True)
    assert out.x_cat.device.type == "cuda"
    assert torch.equal(out.to("cpu").y, b.y)
