"""Exact values and properties of the interaction layers, backbones and heads, and config checks.

The contract suite (``test_model_contracts.py``) checks what every part shares; this file checks
what each one computes: hand-computed outputs on tiny examples, identities between variants
(low rank vs full rank, the O(F·d) FM vs the double sum), and structural properties
(permutation equivariance of AutoInt, heterogeneity of Hiformer).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from harness.models.backbones import (
    DenseNetConfig,
    MLPConfig,
    ResNet,
    ResNetConfig,
)
from harness.models.heads import MMoE, MMoEConfig, SharedBottom, SharedBottomConfig
from harness.models.interactions import (
    AutoInt,
    AutoIntConfig,
    CrossConfig,
    CrossNetV2,
    DotConfig,
    DotInteraction,
    FactorizationMachine,
    FMConfig,
    Hiformer,
    HiformerConfig,
    InteractionConfig,
)
from harness.models.numeric import Log1pConfig
from harness.models.ranker import RankerConfig
from harness.models.spec import TensorSpec
from harness.models.tokenizer import TokenizerConfig

# --- FM -----------------------------------------------------------------------------------------


def _pairwise_double_sum(x: Tensor) -> Tensor:
    """``sum_{i<j} <v_i, v_j>`` per row, the explicit O(F²·d) way."""
    f = x.shape[1]
    total = torch.zeros(x.shape[0], dtype=x.dtype)
    for i in range(f):
        for j in range(i + 1, f):
            total += (x[:, i] * x[:, j]).sum(dim=1)
    return total


@pytest.mark.parametrize(("fields", "d"), [(2, 1), (5, 8), (13, 3)])
def test_fm_equals_the_explicit_pairwise_double_sum(fields: int, d: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(7, fields, d, dtype=torch.float64)
    fm = FactorizationMachine(TensorSpec.tokens(fields, d))
    out = fm(x)
    assert out.shape == (7, 1)
    torch.testing.assert_close(out[:, 0], _pairwise_double_sum(x), rtol=1e-12, atol=1e-12)


def test_fm_vector_pooling_keeps_the_coordinates_that_sum_to_the_fm_term() -> None:
    torch.manual_seed(1)
    x = torch.randn(4, 6, 5, dtype=torch.float64)
    spec = TensorSpec.tokens(6, 5)
    vector = FMConfig(pooling="vector").build(spec)(x)
    assert vector.shape == (4, 5)
    # Coordinate k is sum_{i<j} v_ik v_jk.
    expected = torch.stack([_pairwise_double_sum(x[:, :, k : k + 1]) for k in range(5)], dim=1)
    torch.testing.assert_close(vector, expected)
    torch.testing.assert_close(vector.sum(dim=1, keepdim=True), FMConfig().build(spec)(x))


def test_fm_known_value() -> None:
    x = torch.tensor([[[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]]])
    # <v0,v1> = 3 - 2 = 1, <v0,v2> = 0.5, <v1,v2> = 1.5
    assert FactorizationMachine(TensorSpec.tokens(3, 2))(x).tolist() == [[3.0]]


# --- DLRM dot -----------------------------------------------------------------------------------

# Three tokens of width 2: t0 = (1, -1), t1 = (2, 0), t2 = (0, 3).
# <t0,t1> = 2, <t0,t2> = -3, <t1,t2> = 0; <t0,t0> = 2, <t1,t1> = 4, <t2,t2> = 9.
_TOKENS = torch.tensor([[[1.0, -1.0], [2.0, 0.0], [0.0, 3.0]]])


@pytest.mark.parametrize(
    ("numeric_fields", "self_interaction", "expected"),
    [
        (0, False, [2.0, -3.0, 0.0]),
        (0, True, [2.0, 2.0, -3.0, 4.0, 0.0, 9.0]),  # (0,0) (0,1) (0,2) (1,1) (1,2) (2,2)
        (1, False, [1.0, -1.0, 2.0, -3.0, 0.0]),
        (2, False, [1.0, -1.0, 2.0, 0.0, 2.0, -3.0, 0.0]),
        (2, True, [1.0, -1.0, 2.0, 0.0, 2.0, 2.0, -3.0, 4.0, 0.0, 9.0]),
    ],
)
def test_dot_interaction_hand_computed(
    numeric_fields: int, self_interaction: bool, expected: list[float]
) -> None:
    spec = TensorSpec.tokens(3, 2, numeric_fields=numeric_fields)
    dot = DotConfig(self_interaction=self_interaction).build(spec)
    assert dot.output == TensorSpec.flat(len(expected))
    # A second row scaled by 2: the dense part doubles, every dot product quadruples.
    x = torch.cat([_TOKENS, 2 * _TOKENS])
    n_dense = 2 * numeric_fields
    second = [2 * v for v in expected[:n_dense]] + [4 * v for v in expected[n_dense:]]
    assert dot(x).tolist() == [expected, second]


def test_dot_output_width_formula() -> None:
    spec = TensorSpec.tokens(6, 4, numeric_fields=1)
    assert DotInteraction(spec).output.width == 4 + 6 * 5 // 2
    assert DotInteraction(spec, self_interaction=True).output.width == 4 + 6 * 7 // 2


@pytest.mark.parametrize("build", [DotInteraction, FactorizationMachine])
def test_pairwise_layers_reject_fewer_than_two_tokens(build: type[nn.Module]) -> None:
    with pytest.raises(ValueError, match="fields=1"):
        build(TensorSpec.tokens(1, 4))
    with pytest.raises(ValueError, match="kind='flat'"):
        build(TensorSpec.flat(4))


# --- DCN-v2 cross -------------------------------------------------------------------------------


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
    # x1 = x0 * x0 + x0 = (6, 0); x2 = x0 * x1 + x1 = (18, 0)
    assert net(x0).tolist() == [[18.0, 0.0]]


def test_cross_low_rank_with_rank_d_equals_full_rank_with_w_uvt() -> None:
    torch.manual_seed(0)
    d = 5
    low = CrossConfig(layers=2, rank=d).build(TensorSpec.flat(d))
    full = CrossConfig(layers=2).build(TensorSpec.flat(d))
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


def test_cross_one_expert_is_the_plain_low_rank_layer() -> None:
    net = CrossConfig(layers=2, rank=3, experts=1).build(TensorSpec.flat(6))
    for layer in net.layers:
        assert [type(m) for m in layer.children()] == [nn.Linear, nn.Linear]
        assert not any(isinstance(m, nn.Tanh) for m in layer.modules())
    assert not hasattr(net.layers[0], "gate")


def _expert(layer: nn.Module, i: int, x: Tensor) -> Tensor:
    """Expert ``i`` of a mixture layer: ``U_i tanh(C_i tanh(V_i^T x)) + b``."""
    v, c, u = layer.get_parameter("v"), layer.get_parameter("c"), layer.get_parameter("u")
    low = torch.tanh(x @ v[i])
    low = torch.tanh(low @ c[i])
    out: Tensor = low @ u[i] + layer.get_parameter("bias")
    return out


def test_cross_mixture_matches_a_loop_over_experts_and_gates_sum_to_one() -> None:
    torch.manual_seed(0)
    d, rank, experts = 6, 3, 4
    net = CrossNetV2(d, 1, rank=rank, experts=experts)
    layer = net.layers[0]
    with torch.no_grad():  # a non-trivial bias, so that it is tested too
        layer.get_parameter("bias").normal_()
    x = torch.randn(5, d, dtype=torch.float32)
    gate = layer.get_submodule("gate")
    assert isinstance(gate, nn.Linear) and gate.weight.shape == (experts, d)
    gates = torch.softmax(gate(x), dim=-1)
    torch.testing.assert_close(gates.sum(dim=1), torch.ones(5))
    assert (gates > 0).all()
    mixed = sum(gates[:, i : i + 1] * _expert(layer, i, x) for i in range(experts))
    assert isinstance(mixed, Tensor)
    torch.testing.assert_close(net(x), x * mixed + x)


def test_cross_mixture_of_identical_experts_equals_one_expert_whatever_the_gates() -> None:
    torch.manual_seed(0)
    net = CrossNetV2(6, 1, rank=2, experts=3)
    layer = net.layers[0]
    with torch.no_grad():
        for name in ("v", "c", "u"):
            p = layer.get_parameter(name)
            p.copy_(p[:1].expand_as(p))
        gate = layer.get_submodule("gate")
        assert isinstance(gate, nn.Linear)
        gate.weight.normal_(std=3.0)  # far from uniform gates
    x = torch.randn(4, 6)
    torch.testing.assert_close(net(x), x * _expert(layer, 0, x) + x)


def _n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(("d", "layers", "rank", "experts"), [(100, 3, 8, 1), (64, 2, 4, 3)])
def test_cross_parameter_counts(d: int, layers: int, rank: int, experts: int) -> None:
    full = _n_params(CrossNetV2(d, layers))
    low = _n_params(CrossNetV2(d, layers, rank=rank, experts=experts))
    assert full == layers * (d * d + d)
    if experts == 1:  # U (d x r), V (d x r), bias d
        assert low == layers * (2 * d * rank + d)
    else:  # per expert V, C, U; one bias; a gate Linear(d, experts) without bias
        assert low == layers * (experts * (d * rank + rank * rank + rank * d) + d + d * experts)
    assert low < full


def test_cross_zero_layers_is_identity() -> None:
    x = torch.randn(4, 6)
    assert torch.equal(CrossNetV2(6, 0)(x), x)


def test_cross_rank_zero_is_full_rank() -> None:
    assert CrossNetV2(4, 2, rank=0).rank is None


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((4, -1), {}, "n_layers=-1"),
        ((4, 2), {"rank": -1}, "rank=-1"),
        ((4, 2), {"rank": 5}, "rank=5"),
        ((4, 2), {"experts": 2}, "experts=2"),
        ((0, 2), {}, "d_in=0"),
    ],
)
def test_cross_rejects_bad_args(args: tuple[int, int], kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CrossNetV2(*args, **kwargs)


# --- AutoInt ------------------------------------------------------------------------------------


@pytest.mark.parametrize("residual", [False, True])
def test_autoint_output_width_is_heads_times_head_dim(residual: bool) -> None:
    m = AutoInt(TensorSpec.tokens(5, 8, numeric_fields=2), layers=2, heads=3, head_dim=4,
                residual=residual)  # fmt: skip
    assert m.output == TensorSpec.tokens(5, 12, numeric_fields=2)
    assert m(torch.randn(2, 5, 8)).shape == (2, 5, 12)


@pytest.mark.parametrize("heads", [1, 3])
def test_autoint_over_one_field_is_relu_of_the_value_projection(heads: int) -> None:
    torch.manual_seed(0)
    m = AutoInt(TensorSpec.tokens(1, 6), layers=1, heads=heads, head_dim=4, residual=False)
    qkv = m.layers[0].get_submodule("qkv")
    assert isinstance(qkv, nn.Linear)
    w_value = qkv.weight[2 * heads * 4 :]  # q, k, v stacked along the output dimension
    x = torch.randn(3, 1, 6)
    # Softmax over a single key is 1: the token attends only to itself.
    torch.testing.assert_close(m(x), torch.relu(x @ w_value.T))


def test_autoint_is_permutation_equivariant() -> None:
    torch.manual_seed(0)
    m = AutoIntConfig(layers=2, heads=2, head_dim=4).build(TensorSpec.tokens(5, 8)).eval()
    x = torch.randn(3, 5, 8)
    perm = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(m(x[:, perm]), m(x)[:, perm])


# --- Hiformer -----------------------------------------------------------------------------------


def test_hiformer_rank_zero_has_per_feature_key_and_value() -> None:
    fields, d, heads, head_dim = 4, 8, 2, 3
    m = Hiformer(TensorSpec.tokens(fields, d), layers=2, heads=heads, head_dim=head_dim)
    assert len(m.layers) == 2
    for layer in m.layers:
        for name in ("query", "key", "value"):
            assert layer.get_parameter(name).shape == (fields, d, heads * head_dim), name
        assert layer.get_parameter("out").shape == (fields, heads * head_dim, d)
        assert not hasattr(layer, "key_low") and not hasattr(layer, "value_low")


def test_hiformer_low_rank_has_the_composite_projection_instead() -> None:
    fields, d, heads, head_dim, rank = 4, 8, 2, 3, 5
    m = Hiformer(TensorSpec.tokens(fields, d), heads=heads, head_dim=head_dim, rank=rank)
    layer = m.layers[0]
    assert layer.get_parameter("query").shape == (fields, d, heads * head_dim)
    names = {n for n, _ in layer.named_parameters()}
    assert "key" not in names and "value" not in names
    for name in ("key_low", "value_low"):
        down, up = layer.get_submodule(name).children()
        assert isinstance(down, nn.Linear) and isinstance(up, nn.Linear)
        assert down.weight.shape == (rank, fields * d)  # every feature feeds every key
        assert up.weight.shape == (fields * heads * head_dim, rank)


def test_hiformer_low_rank_key_depends_on_every_feature() -> None:
    torch.manual_seed(0)
    m = Hiformer(TensorSpec.tokens(3, 4), heads=1, head_dim=4, rank=2)
    key_low = m.layers[0].get_submodule("key_low")
    x = torch.randn(1, 3, 4, requires_grad=True)
    # The key of token 0 reads tokens 1 and 2 too (the composite, not a per-feature map).
    key0 = key_low(x.flatten(1)).view(1, 3, 4)[:, 0]
    key0.sum().backward()
    assert x.grad is not None and (x.grad[0].abs().sum(dim=1) > 0).all()


def test_hiformer_rank_zero_is_not_permutation_equivariant() -> None:
    torch.manual_seed(0)
    m = HiformerConfig(heads=2, head_dim=4).build(TensorSpec.tokens(5, 8)).eval()
    x = torch.randn(3, 5, 8)
    perm = torch.tensor([3, 0, 4, 1, 2])
    diff = (m(x[:, perm]) - m(x)[:, perm]).abs().max()
    assert diff > 1e-2  # per-feature weights: feature i is read by W_i, not by its position


def test_hiformer_is_equivariant_once_its_per_feature_weights_are_permuted_too() -> None:
    # The converse of the test above: heterogeneity lies only in the per-feature weights.
    torch.manual_seed(0)
    m = HiformerConfig(layers=2, heads=2, head_dim=4).build(TensorSpec.tokens(5, 8)).eval()
    x = torch.randn(3, 5, 8)
    perm = torch.tensor([3, 0, 4, 1, 2])
    expected = m(x)[:, perm]
    with torch.no_grad():
        for layer in m.layers:
            for name in ("query", "key", "value", "out"):
                p = layer.get_parameter(name)
                p.copy_(p[perm])
    torch.testing.assert_close(m(x[:, perm]), expected)


@pytest.mark.parametrize("rank", [-1, 33])
def test_hiformer_rejects_a_rank_outside_the_composite(rank: int) -> None:
    with pytest.raises(ValueError, match=f"rank={rank}"):
        Hiformer(TensorSpec.tokens(4, 8), rank=rank)  # min(4 * 8, 4 * 2 * 16) = 32


# --- backbones ----------------------------------------------------------------------------------


def test_resnet_is_last_of_blocks_of_first() -> None:
    torch.manual_seed(0)
    m = ResNetConfig(blocks=3, width=10).build(7).eval()
    x = torch.randn(4, 7)
    out = m(x)
    assert out.shape == (4, 10) and m.d_out == 10
    assert torch.equal(out, m.last(m.blocks(m.first(x))))
    assert len(m.blocks) == 3


def test_resnet_blocks_are_residual() -> None:
    # With each block's last Linear zeroed, F(x) = 0 and every block is the identity.
    torch.manual_seed(0)
    m = ResNet(7, 2, width=10, norm="layer").eval()
    with torch.no_grad():
        for block in m.blocks:
            f = block.get_submodule("f")
            assert isinstance(f, nn.Sequential)
            last_linear = [c for c in f if isinstance(c, nn.Linear)][-1]
            last_linear.weight.zero_()
            last_linear.bias.zero_()
    x = torch.randn(4, 7)
    torch.testing.assert_close(m(x), m.last(m.first(x)))


def test_densenet_width_and_its_output_starts_with_its_input() -> None:
    torch.manual_seed(0)
    m = DenseNetConfig(blocks=3, growth=5).build(7)
    assert m.d_out == 7 + 3 * 5
    x = torch.randn(4, 7)
    out = m(x)
    assert out.shape == (4, 22)
    assert torch.equal(out[:, :7], x)
    # Block k reads everything before it: its input and the k earlier blocks' outputs.
    for k, block in enumerate(m.blocks):
        start = 7 + k * 5
        torch.testing.assert_close(out[:, start : start + 5], block(out[:, :start]))


def test_mlp_norms() -> None:
    batch = MLPConfig(dims=(8, 4), norm="batch").build(6)
    kinds = [type(m).__name__ for m in batch.blocks]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU"]
    layer = MLPConfig(dims=(8,), norm="layer", activation="silu").build(6)
    assert [type(m).__name__ for m in layer.blocks] == ["Linear", "LayerNorm", "SiLU"]
    assert not any(isinstance(m, nn.BatchNorm1d) for m in MLPConfig().build(6).modules())


# --- heads --------------------------------------------------------------------------------------


def test_mmoe_gates_are_softmaxes_per_task_and_mix_the_experts() -> None:
    torch.manual_seed(0)
    m = MMoEConfig(experts=3, expert_dims=(6,), tower_dims=(4,)).build(8, 2)
    assert isinstance(m, MMoE)
    x = torch.randn(5, 8)
    gates = m.gate_weights(x)
    assert gates.shape == (5, 2, 3)
    torch.testing.assert_close(gates.sum(dim=-1), torch.ones(5, 2))
    assert (gates > 0).all()
    experts = [e(x) for e in m.experts]
    for t, tower in enumerate(m.towers):
        mixed = sum(gates[:, t, k : k + 1] * experts[k] for k in range(3))
        torch.testing.assert_close(m(x)[:, t : t + 1], tower(mixed))


def test_mmoe_tasks_can_weight_experts_differently() -> None:
    torch.manual_seed(0)
    m = MMoE(8, 2, experts=3, expert_dims=(6,))
    gates = m.gate_weights(torch.randn(5, 8))
    assert not torch.allclose(gates[:, 0], gates[:, 1])


def test_shared_bottom_has_one_tower_per_task() -> None:
    torch.manual_seed(0)
    m = SharedBottomConfig(tower_dims=(4, 3)).build(8, 3)
    assert isinstance(m, SharedBottom)
    assert len(m.towers) == 3
    x = torch.randn(5, 8)
    out = m(x)
    for t, tower in enumerate(m.towers):
        assert torch.equal(out[:, t : t + 1], tower(x))
    # Towers are separate modules: no parameter is shared between two tasks.
    ids = [{id(p) for p in tower.parameters()} for tower in m.towers]
    assert all(not (a & b) for a, b in itertools.combinations(ids, 2))


# --- config validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: CrossConfig(experts=2, rank=0), "experts=2.*rank"),
        (lambda: CrossConfig(layers=-1), "layers=-1"),
        (lambda: CrossConfig(rank=-1), "rank=-1"),
        (lambda: CrossConfig(experts=0), "experts=0"),
        (lambda: AutoIntConfig(heads=0), "heads=0"),
        (lambda: AutoIntConfig(layers=0), "layers=0"),
        (lambda: AutoIntConfig(head_dim=0), "head_dim=0"),
        (lambda: HiformerConfig(heads=0), "heads=0"),
        (lambda: HiformerConfig(rank=-1), "rank=-1"),
        (lambda: HiformerConfig(ffn_factor=0), "ffn_factor=0"),
        (lambda: FMConfig(pooling="mean"), "pooling='mean'"),  # type: ignore[arg-type]
        (lambda: DotConfig(self_interaction=1), "self_interaction=1"),  # type: ignore[arg-type]
        (lambda: MLPConfig(dims=(4, 0)), r"dims=\(4, 0\)"),
        (lambda: MLPConfig(dropout=1.0), "dropout=1.0"),
        (lambda: MLPConfig(activation="tanhh"), "activation='tanhh'"),  # type: ignore[arg-type]
        (lambda: MLPConfig(norm="group"), "norm='group'"),  # type: ignore[arg-type]
        (lambda: ResNetConfig(blocks=0), "blocks=0"),
        (lambda: ResNetConfig(hidden_factor=0.0), "hidden_factor=0.0"),
        (lambda: ResNetConfig(residual_dropout=1.0), "residual_dropout=1.0"),
        (lambda: DenseNetConfig(growth=0), "growth=0"),
        (lambda: MMoEConfig(experts=0), "experts=0"),
        (lambda: MMoEConfig(expert_dims=()), "expert_dims"),
        (lambda: MMoEConfig(tower_dims=(0,)), "tower_dims"),
        (lambda: SharedBottomConfig(tower_dims=(-1,)), "tower_dims"),
        (lambda: Log1pConfig(missing_indicator="yes"), "missing_indicator='yes'"),  # type: ignore[arg-type]
        (lambda: TokenizerConfig(embedding_dim=0), "embedding_dim=0"),
        (lambda: TokenizerConfig(numeric_tokens="bag"), "numeric_tokens='bag'"),  # type: ignore[arg-type]
        (lambda: TokenizerConfig(bottom_dims=(0,)), "bottom_dims"),
        (lambda: TokenizerConfig(init_std=0.0), "init_std=0.0"),
        (lambda: RankerConfig(topology="diagonal"), "topology='diagonal'"),  # type: ignore[arg-type]
        (lambda: RankerConfig(wide=1), "wide=1"),  # type: ignore[arg-type]
    ],
)
def test_configs_reject_bad_values_naming_the_field(make: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    ("config", "inputs", "match"),
    [
        (CrossConfig(rank=13), TensorSpec.flat(12), "rank=13"),
        (HiformerConfig(rank=100), TensorSpec.tokens(3, 4), "rank=100"),
        (FMConfig(), TensorSpec.tokens(1, 4), "fields=1"),
        (AutoIntConfig(), TensorSpec.flat(4), "tokens"),
    ],
)
def test_builds_reject_impossible_sizes(
    config: InteractionConfig, inputs: TensorSpec, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        config.build(inputs)
