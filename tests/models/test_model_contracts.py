"""Contracts every registered part passes: a new part is tested by being registered.

Each suite iterates over its registry (``NUMERIC_ENCODINGS``, ``INTERACTIONS``, ``BACKBONES``,
``HEADS``), building every entry from its config's defaults, as optuna's ``pytest_samplers.py``
does for samplers. A few non-default variants (low-rank cross, mixture of experts, ...) are
added next to the defaults because their code paths differ.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from harness.data.schema import (
    CategoricalFeature,
    EncodedDataset,
    EncodedSplit,
    FeatureSchema,
    NumericFeature,
)
from harness.families.neural import NEURAL, NeuralConfig
from harness.fitting import TrainContext
from harness.models.backbones import BACKBONES, BackboneConfig, DenseNetConfig, MLPConfig
from harness.models.heads import HEADS, HeadConfig, LinearHeadConfig
from harness.models.inputs import FeatureInputs
from harness.models.interactions import (
    INTERACTIONS,
    CrossConfig,
    DotConfig,
    FMConfig,
    HiformerConfig,
    InteractionConfig,
)
from harness.models.numeric import (
    NUMERIC_ENCODINGS,
    Log1pConfig,
    NumericEncoding,
    NumericEncodingConfig,
    PeriodicConfig,
    PLEConfig,
    QuantizeConfig,
    SigmoidConfig,
    SplitConfig,
    StandardConfig,
)
from harness.models.ranker import RankerConfig
from harness.models.spec import TensorSpec
from harness.models.tokenizer import NumericTokens, TokenizerConfig
from harness.training.config import TrainConfig
from tests.planted import fitted_schema, planted_dataset

B = 6
D_IN = 12
TASKS = 2
NAN = float("nan")


def _x_train(n_features: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.lognormal(0.0, 2.0, size=(64, n_features)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    return x


def _grad_ok(p: Tensor) -> bool:
    """The parameter got a finite gradient that is not all zero (sparse gradients included)."""
    if p.grad is None:
        return False
    g = p.grad.coalesce().values() if p.grad.is_sparse else p.grad
    return bool(torch.isfinite(g).all() and g.abs().sum() > 0)


def _assert_module_contract(build: Callable[[], nn.Module], x: Tensor) -> None:
    """``state_dict`` round trip, deterministic eval, and ``.to()`` moving every tensor.

    Args:
        build: builds the module (called several times, with different seeds).
        x: an input batch of the module.
    """
    # A fresh module loaded with another's state_dict computes the same outputs.
    torch.manual_seed(0)
    original = build()
    original.train()
    original(x)  # a training pass moves batch-norm running statistics off their init
    torch.manual_seed(1)  # different initial weights
    fresh = build()
    original.eval()
    fresh.eval()
    with torch.no_grad():
        expected = original(x)
        if any(True for _ in fresh.parameters()):  # else there is nothing to load
            assert not torch.equal(fresh(x), expected), "the seed should change the weights"
        fresh.load_state_dict(original.state_dict())
        assert torch.equal(fresh(x), expected)
        # Eval mode is deterministic.
        assert torch.equal(original(x), expected)

    # .to() moves every parameter and buffer, persistent or not; a plain tensor attribute
    # would stay behind, so there must be none, and the moved module still runs.
    for name, sub in original.named_modules():
        stray = [k for k, v in vars(sub).items() if isinstance(v, Tensor)]
        assert not stray, f"{name or 'module'} keeps tensors .to() does not move: {stray}"
    original.to("meta")
    for name, t in [*original.named_parameters(), *original.named_buffers()]:
        assert t.device.type == "meta", name
    with torch.no_grad():
        out = original(x.to("meta"))
    assert out.device.type == "meta" and out.shape == expected.shape


def _assert_every_parameter_trained(module: nn.Module) -> None:
    params = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    for name, p in params:
        assert _grad_ok(p), f"no (finite, non-zero) gradient for {name}"


# --- numeric encodings --------------------------------------------------------------------------

# Every registered encoding with its defaults, plus variants whose code paths differ.
NUMERIC_CASES: list[tuple[str, NumericEncodingConfig]] = [
    *((name, config_cls()) for name, config_cls in NUMERIC_ENCODINGS.items()),
    ("log1p-unstandardized", Log1pConfig(standardize=False)),
    ("standard-no-clip", StandardConfig(clip=0.0)),
    ("sigmoid-fixed", SigmoidConfig(learnable=False)),
    ("periodic-lite-fixed", PeriodicConfig(lite=True, learnable=False)),
    ("quantize-few-bins", QuantizeConfig(bins=3, d_embedding=2)),
    ("ple-embedding", PLEConfig(bins=8, d_embedding=4)),
    ("ple-embedding-relu", PLEConfig(bins=8, d_embedding=4, activation=True)),
    ("ple-target-aware", PLEConfig(bins=4, target_aware=True, tree_min_samples_leaf=4)),
    (
        "split-ple-standard",
        SplitConfig(columns=("n0", "n2"), selected=PLEConfig(bins=4), others=StandardConfig()),
    ),
    (
        "split-quantize-periodic",
        SplitConfig(
            columns=("n1",),
            selected=QuantizeConfig(bins=3, d_embedding=2),
            others=PeriodicConfig(d_embedding=4, frequencies=2),
        ),
    ),
]
NUMERIC_IDS = [name for name, _ in NUMERIC_CASES]
numeric_cases = pytest.mark.parametrize(("name", "config"), NUMERIC_CASES, ids=NUMERIC_IDS)
indicator = pytest.mark.parametrize("missing_indicator", [False, True], ids=["learned", "flag"])


def _y_train(n: int = 64) -> np.ndarray:
    return (np.random.default_rng(1).random(n) < 0.3).astype(np.float32)


def _numeric_inputs(n_features: int, x: np.ndarray | None = None) -> FeatureInputs:
    """Inputs fitted on ``x`` (default `_x_train`), with labels for target-aware bins."""
    x = _x_train(n_features) if x is None else x
    return FeatureInputs.from_arrays(x, y=_y_train(x.shape[0]))


def _with_indicator(config: NumericEncodingConfig, on: bool) -> NumericEncodingConfig:
    fields = {f.name for f in dataclasses.fields(config)}
    assert "missing_indicator" in fields, "every numeric encoding offers missing_indicator"
    return dataclasses.replace(config, missing_indicator=on)  # type: ignore[call-arg]


# NaN, zero, negatives, values far beyond the training range (lognormal, about 0.01 .. 500),
# +-1e30 and infinities.
EXTREMES = torch.tensor(
    [
        [NAN, 0.0, -3.0, 1e30],
        [1.0, NAN, NAN, -1e30],
        [2.0, 5.0, 7.0, 0.5],
        [-1e6, 1e6, 1e-30, -1e-30],
        [math.inf, -math.inf, 3e38, -3e38],
    ]
)


@numeric_cases
@indicator
def test_numeric_shape_and_finite_on_nan_huge_and_unseen_values(
    name: str, config: NumericEncodingConfig, missing_indicator: bool
) -> None:
    enc = _with_indicator(config, missing_indicator).build(_numeric_inputs(4))
    assert isinstance(enc, NumericEncoding)
    assert enc.n_features == 4
    out = enc(EXTREMES)
    assert out.shape == (EXTREMES.shape[0], 4, enc.d_out)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("name", "config_cls"), NUMERIC_ENCODINGS.items(), ids=list(NUMERIC_ENCODINGS.names)
)
def test_numeric_default_config_builds(name: str, config_cls: type[NumericEncodingConfig]) -> None:
    enc = config_cls().build(_numeric_inputs(3))
    assert enc.n_features == 3 and enc.d_out >= 1
    assert enc(torch.randn(B, 3)).shape == (B, 3, enc.d_out)


@numeric_cases
def test_numeric_missing_indicator_widens_by_one_and_flags_exactly_nan(
    name: str, config: NumericEncodingConfig
) -> None:
    inputs = _numeric_inputs(3)
    without = _with_indicator(config, False).build(inputs)
    with_ind = _with_indicator(config, True).build(inputs)
    assert with_ind.d_out == without.d_out + 1
    x = torch.tensor([[NAN, 1.0, 2.0], [0.0, NAN, NAN], [-1e30, 0.0, 1e30]])
    # The last channel flags the missing values and only them.
    flags = with_ind(x)[..., -1]
    assert torch.equal(flags, torch.isnan(x).float())


@numeric_cases
@indicator
def test_numeric_missing_is_one_code_per_feature_and_learned_without_the_flag(
    name: str, config: NumericEncodingConfig, missing_indicator: bool
) -> None:
    enc = _with_indicator(config, missing_indicator).build(_numeric_inputs(3))
    # Feature 1 is missing in rows 0 and 1, whose other values differ.
    x = torch.tensor([[0.1, NAN, 5.0], [40.0, NAN, 0.2], [1.0, 2.0, 3.0]])
    out = enc(x)
    # A missing entry's code is its feature's, whatever the row: no value leaks into it.
    assert torch.equal(out[0, 1], out[1, 1])
    if missing_indicator:
        return
    # Without the flag, the code is learned: a loss on missing entries alone trains a parameter.
    out[:, 1].sum().backward()
    trained = [n for n, p in enc.named_parameters() if p.grad is not None and p.grad.abs().sum()]
    assert trained, "a missing entry's channels must be a learned vector"


@pytest.mark.parametrize(
    ("name", "config_cls"), NUMERIC_ENCODINGS.items(), ids=list(NUMERIC_ENCODINGS.names)
)
def test_numeric_zero_features(name: str, config_cls: type[NumericEncodingConfig]) -> None:
    enc = config_cls().build(FeatureInputs.from_arrays(np.zeros((10, 0), dtype=np.float32)))
    assert enc.n_features == 0
    assert enc(torch.zeros(B, 0)).shape == (B, 0, enc.d_out)


@numeric_cases
@indicator
def test_numeric_gradient_reaches_every_parameter(
    name: str, config: NumericEncodingConfig, missing_indicator: bool
) -> None:
    torch.manual_seed(0)
    enc = _with_indicator(config, missing_indicator).build(_numeric_inputs(3))
    x = torch.tensor([[0.5, -2.0, 3.0], [NAN, 1.5, NAN], [20.0, NAN, 0.1]], requires_grad=True)
    out = enc(x)
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is None or torch.isfinite(x.grad).all()
    _assert_every_parameter_trained(enc)
    # Something learns from the value: the input's gradient, or the parameters (bin vectors).
    has_params = any(p.requires_grad for p in enc.parameters())
    assert has_params or (x.grad is not None and x.grad.abs().sum() > 0)


@pytest.mark.parametrize(
    ("name", "config_cls"), NUMERIC_ENCODINGS.items(), ids=list(NUMERIC_ENCODINGS.names)
)
@pytest.mark.parametrize("shape", [(10,), (2, 5, 3)])
def test_numeric_rejects_a_bad_train_array(
    name: str, config_cls: type[NumericEncodingConfig], shape: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError, match="x_num"):
        config_cls().build(FeatureInputs.from_arrays(np.zeros(shape, dtype=np.float32)))


@numeric_cases
@pytest.mark.parametrize("width", [2, 4])
def test_numeric_rejects_a_wrong_input_width(
    name: str, config: NumericEncodingConfig, width: int
) -> None:
    enc = config.build(_numeric_inputs(3))
    with pytest.raises(ValueError, match="x_num"):
        enc(torch.zeros(B, width))


@numeric_cases
@indicator
def test_numeric_module_contract(
    name: str, config: NumericEncodingConfig, missing_indicator: bool
) -> None:
    inputs = _numeric_inputs(3)
    x = torch.tensor(_x_train(3)[:B])
    assert torch.isnan(x).any(), "the batch should exercise the missing path"

    def build() -> nn.Module:
        enc = _with_indicator(config, missing_indicator).build(inputs)
        # Some parameters start from fitted values (sigmoid thresholds, missing vectors), the
        # same whatever the seed: nudge them by the seed, as training would, so that loading
        # a state_dict has something to restore.
        with torch.no_grad():
            for p in enc.parameters():
                p.add_(torch.randn_like(p))
        return enc

    _assert_module_contract(build, x)


@numeric_cases
def test_numeric_builds_and_runs_on_the_meta_device(
    name: str, config: NumericEncodingConfig
) -> None:
    inputs = _numeric_inputs(3)
    with torch.device("meta"):
        enc = config.build(inputs)
        out = enc(torch.zeros(B, 3))
    assert out.device.type == "meta" and out.shape == (B, 3, enc.d_out)
    for n, t in [*enc.named_parameters(), *enc.named_buffers()]:
        assert t.device.type == "meta", n


@numeric_cases
def test_numeric_encoding_validates_inside_a_ranker(
    name: str, config: NumericEncodingConfig
) -> None:
    model = RankerConfig(
        tokenizer=dataclasses.replace(SMALL_TOKENIZER, numeric=config), backbone=SMALL_MLP
    )
    NEURAL.validate(NeuralConfig(model=model), _tiny_dataset())


def _with_eval_rows(seed: int) -> EncodedDataset:
    """A dataset whose training split is fixed and whose valid and test rows depend on ``seed``."""
    rng = np.random.default_rng(seed)

    def rows(n: int, generator: np.random.Generator) -> EncodedSplit:
        x_num = generator.lognormal(0.0, 2.0, size=(n, N_NUM)).astype(np.float32)
        x_num[generator.random(x_num.shape) < 0.2] = np.nan
        x_cat = np.stack([generator.integers(0, c, n) for c in CARDS], axis=1).astype(np.int32)
        y = (generator.random((n, 1)) < 0.3).astype(np.float32)
        return EncodedSplit(x_num=x_num, x_cat=x_cat, y=y)

    train = rows(256, np.random.default_rng(0))
    schema = fitted_schema(
        FeatureSchema(
            numeric=tuple(NumericFeature(f"n{i}") for i in range(N_NUM)),
            categorical=tuple(CategoricalFeature(f"c{j}", c) for j, c in enumerate(CARDS)),
        ),
        train,
    )
    return EncodedDataset(
        "eval-rows", schema, train, rows(128, rng), rows(128, rng), protocol="random"
    )


@numeric_cases
def test_numeric_is_fitted_on_train_only_and_deterministic(
    name: str, config: NumericEncodingConfig
) -> None:
    # Two datasets that differ only in their valid and test rows build the same encoding.
    states = []
    for seed in (1, 2, 2):
        torch.manual_seed(0)
        states.append(config.build(FeatureInputs.of(_with_eval_rows(seed))).state_dict())
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
        assert torch.equal(states[1][key], states[2][key]), key


@numeric_cases
@indicator
def test_numeric_all_missing_and_constant_columns(
    name: str, config: NumericEncodingConfig, missing_indicator: bool
) -> None:
    x_train = _x_train(3)
    x_train[:, 0] = np.nan  # never present on train: no knots, no moments
    x_train[:, 1] = 7.0  # constant: one knot value, standard deviation 0
    enc = _with_indicator(config, missing_indicator).build(_numeric_inputs(3, x_train))
    out = enc(torch.cat([torch.tensor(x_train[:B]), EXTREMES[:, :3]]))
    assert torch.isfinite(out).all()
    # Every training row of the constant column gets one code.
    constant = enc(torch.tensor(x_train[:B]))[:, 1]
    assert torch.equal(constant, constant[:1].expand_as(constant))


# --- interactions -------------------------------------------------------------------------------

# Every registered interaction with its defaults, plus variants whose code paths differ.
INTERACTION_CASES: list[tuple[str, InteractionConfig]] = [
    *((name, config_cls()) for name, config_cls in INTERACTIONS.items()),
    ("cross-low-rank", CrossConfig(layers=2, rank=4)),
    ("cross-mixture", CrossConfig(layers=2, rank=3, experts=3)),
    ("cross-zero-layers", CrossConfig(layers=0)),
    ("fm-vector", FMConfig(pooling="vector")),
    ("dot-self", DotConfig(self_interaction=True)),
    ("hiformer-low-rank", HiformerConfig(layers=2, rank=8)),
]
INTERACTION_IDS = [name for name, _ in INTERACTION_CASES]
interactions = pytest.mark.parametrize(("name", "config"), INTERACTION_CASES, ids=INTERACTION_IDS)


def _spec_for(config: InteractionConfig) -> TensorSpec:
    if config.takes == "tokens":
        return TensorSpec.tokens(5, 8, numeric_fields=2)
    assert config.takes == "flat", f"unknown tensor kind {config.takes!r}"
    return TensorSpec.flat(D_IN)


def _shape(spec: TensorSpec) -> tuple[int, ...]:
    return (B, spec.fields, spec.width) if spec.kind == "tokens" else (B, spec.width)


def _input(spec: TensorSpec, *, requires_grad: bool = False) -> Tensor:
    return torch.randn(*_shape(spec), requires_grad=requires_grad)


@interactions
def test_interaction_output_matches_its_spec(name: str, config: InteractionConfig) -> None:
    spec = _spec_for(config)
    module = config.build(spec)
    assert module.input == spec
    out = module(_input(spec))
    assert tuple(out.shape) == _shape(module.output)
    module.output.check(out, name)
    assert torch.isfinite(out).all()


@interactions
def test_interaction_rejects_the_wrong_input_shape(name: str, config: InteractionConfig) -> None:
    spec = _spec_for(config)
    module = config.build(spec)
    if spec.kind == "tokens":
        wrong = torch.randn(B, spec.fields + 1, spec.width)
    else:
        wrong = torch.randn(B, spec.width + 1)
    with pytest.raises(ValueError, match="expected"):
        module(wrong)


@interactions
def test_interaction_gradient_reaches_input_and_every_parameter(
    name: str, config: InteractionConfig
) -> None:
    torch.manual_seed(0)
    spec = _spec_for(config)
    module = config.build(spec)
    x = _input(spec, requires_grad=True)
    out = module(x)
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    _assert_every_parameter_trained(module)


@interactions
def test_interaction_module_contract(name: str, config: InteractionConfig) -> None:
    spec = _spec_for(config)
    x = _input(spec)

    def build() -> nn.Module:
        return config.build(spec)

    _assert_module_contract(build, x)


@interactions
def test_interaction_runs_on_the_meta_device(name: str, config: InteractionConfig) -> None:
    spec = _spec_for(config)
    with torch.device("meta"):
        module = config.build(spec)
        out = module(_input(spec))
    assert out.device.type == "meta"
    assert tuple(out.shape) == _shape(module.output)


# --- backbones ----------------------------------------------------------------------------------

BACKBONE_CASES = BACKBONES.items()
BACKBONE_IDS = [name for name, _ in BACKBONE_CASES]
backbones = pytest.mark.parametrize(("name", "config_cls"), BACKBONE_CASES, ids=BACKBONE_IDS)


@backbones
def test_backbone_shape_and_finite(name: str, config_cls: type[BackboneConfig]) -> None:
    module = config_cls().build(D_IN)
    assert module.d_in == D_IN
    out = module(torch.randn(B, D_IN))
    assert out.shape == (B, module.d_out)
    assert torch.isfinite(out).all()


@backbones
def test_backbone_gradient_reaches_input_and_every_parameter(
    name: str, config_cls: type[BackboneConfig]
) -> None:
    torch.manual_seed(0)
    module = config_cls().build(D_IN)
    x = torch.randn(B, D_IN, requires_grad=True)
    out = module(x)
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    _assert_every_parameter_trained(module)


@backbones
def test_backbone_module_contract(name: str, config_cls: type[BackboneConfig]) -> None:
    x = torch.randn(B, D_IN)

    def build() -> nn.Module:
        return config_cls().build(D_IN)

    _assert_module_contract(build, x)


@backbones
@pytest.mark.parametrize("d_in", [0, -3])
def test_backbone_rejects_a_bad_width_naming_it(
    name: str, config_cls: type[BackboneConfig], d_in: int
) -> None:
    with pytest.raises(ValueError, match=rf"d_in={d_in}"):
        config_cls().build(d_in)


# --- heads --------------------------------------------------------------------------------------

HEAD_CASES = HEADS.items()
HEAD_IDS = [name for name, _ in HEAD_CASES]
heads = pytest.mark.parametrize(("name", "config_cls"), HEAD_CASES, ids=HEAD_IDS)


@heads
@pytest.mark.parametrize("tasks", [1, 3])
def test_head_gives_one_logit_per_task(name: str, config_cls: type[HeadConfig], tasks: int) -> None:
    module = config_cls().build(D_IN, tasks)
    assert (module.d_in, module.tasks) == (D_IN, tasks)
    out = module(torch.randn(B, D_IN))
    assert out.shape == (B, tasks)
    assert torch.isfinite(out).all()


@heads
def test_head_gradient_reaches_input_and_every_parameter(
    name: str, config_cls: type[HeadConfig]
) -> None:
    torch.manual_seed(0)
    module = config_cls().build(D_IN, TASKS)
    x = torch.randn(B, D_IN, requires_grad=True)
    out = module(x)
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    _assert_every_parameter_trained(module)


@heads
def test_head_module_contract(name: str, config_cls: type[HeadConfig]) -> None:
    x = torch.randn(B, D_IN)

    def build() -> nn.Module:
        return config_cls().build(D_IN, TASKS)

    _assert_module_contract(build, x)


@heads
@pytest.mark.parametrize(("d_in", "tasks", "match"), [(0, 1, "d_in=0"), (4, 0, "tasks=0")])
def test_head_rejects_bad_sizes_naming_them(
    name: str, config_cls: type[HeadConfig], d_in: int, tasks: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        config_cls().build(d_in, tasks)


# --- rankers: every interaction x topology x wide -----------------------------------------------

CARDS = (5, 7, 3)
N_NUM = 3
SMALL_TOKENIZER = TokenizerConfig(embedding_dim=4, bottom_dims=(8,))
SMALL_MLP = MLPConfig(dims=(8,))


def _tiny_inputs(n: int = B) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(0)
    x_num = torch.randn(n, N_NUM, generator=g) * 10
    x_num[::2, 0] = NAN
    x_num[1::3, 2] = NAN
    x_cat = torch.stack([torch.randint(0, c, (n,), generator=g) for c in CARDS], dim=1)
    return x_num, x_cat


def _tiny_dataset() -> EncodedDataset:
    x_num, x_cat = _tiny_inputs(16)
    y = (torch.arange(16 * TASKS).view(16, TASKS) % 3 == 0).float()
    split = EncodedSplit(x_num=x_num.numpy(), x_cat=x_cat.int().numpy(), y=y.numpy())
    schema = FeatureSchema(
        numeric=tuple(NumericFeature(f"n{i}") for i in range(N_NUM)),
        categorical=tuple(CategoricalFeature(f"c{j}", c) for j, c in enumerate(CARDS)),
        labels=("a", "b"),
    )
    return EncodedDataset("tiny", schema, split, split, split, protocol="random", synthetic=True)


RANKER_CASES = [
    pytest.param(config_cls, topology, wide, id=f"{name}-{topology}-{'wide' if wide else 'deep'}")
    for name, config_cls in INTERACTIONS.items()
    for topology in ("stacked", "parallel")
    for wide in (False, True)
]


def _ranker_config(
    interaction: InteractionConfig,
    topology: str,
    wide: bool,
    tokenizer: TokenizerConfig = SMALL_TOKENIZER,
) -> RankerConfig:
    return RankerConfig(
        tokenizer=tokenizer,
        interaction=interaction,
        backbone=SMALL_MLP,
        topology=topology,  # type: ignore[arg-type]
        wide=wide,
    )


def _assert_trains_everywhere(config: RankerConfig) -> None:
    """Finite logits ``(B, tasks)`` on NaN inputs; every parameter gets a gradient."""
    torch.manual_seed(0)
    x_num, x_cat = _tiny_inputs()
    model = config.build(FeatureInputs.from_arrays(_x_train(N_NUM), CARDS), tasks=TASKS)
    assert (model.wide is not None) == config.wide
    logits = model(x_num, x_cat)
    assert logits.shape == (B, TASKS)
    assert torch.isfinite(logits).all()
    (logits * torch.randn_like(logits)).sum().backward()
    _assert_every_parameter_trained(model)
    sparse = [p for p in model.parameters() if p.grad is not None and p.grad.is_sparse]
    assert len(sparse) == (2 if config.wide else 1)  # the embedding table (and the wide one)


@pytest.mark.parametrize(("config_cls", "topology", "wide"), RANKER_CASES)
def test_ranker_finite_logits_and_gradients_everywhere(
    config_cls: type[InteractionConfig], topology: str, wide: bool
) -> None:
    _assert_trains_everywhere(_ranker_config(config_cls(), topology, wide))


@pytest.mark.parametrize("mode", ["per_feature", "mlp", "flat"])
@pytest.mark.parametrize(
    "config_cls", [c for _, c in INTERACTIONS.items()], ids=list(INTERACTIONS.names)
)
def test_ranker_with_every_numeric_token_mode(
    config_cls: type[InteractionConfig], mode: NumericTokens
) -> None:
    tokenizer = dataclasses.replace(SMALL_TOKENIZER, numeric_tokens=mode)
    _assert_trains_everywhere(_ranker_config(config_cls(), "stacked", False, tokenizer))


@pytest.mark.parametrize(("config_cls", "topology", "wide"), RANKER_CASES)
def test_ranker_validates_on_the_meta_device(
    config_cls: type[InteractionConfig], topology: str, wide: bool
) -> None:
    config = NeuralConfig(model=_ranker_config(config_cls(), topology, wide))
    NEURAL.validate(config, _tiny_dataset())


@pytest.mark.parametrize(
    ("kind", "part"),
    [pytest.param("backbone", c, id=f"backbone-{n}") for n, c in BACKBONES.items()]
    + [pytest.param("head", c, id=f"head-{n}") for n, c in HEADS.items()],
)
def test_ranker_with_every_backbone_and_head(kind: str, part: type) -> None:
    torch.manual_seed(0)
    x_num, x_cat = _tiny_inputs()
    backbone = part() if kind == "backbone" else SMALL_MLP
    head = part() if kind == "head" else LinearHeadConfig()
    config = RankerConfig(tokenizer=SMALL_TOKENIZER, backbone=backbone, head=head)
    model = config.build(FeatureInputs.from_arrays(_x_train(N_NUM), CARDS), tasks=TASKS)
    logits = model(x_num, x_cat)
    assert logits.shape == (B, TASKS) and torch.isfinite(logits).all()
    (logits * torch.randn_like(logits)).sum().backward()
    _assert_every_parameter_trained(model)


@pytest.mark.parametrize(
    "config_cls", [c for _, c in INTERACTIONS.items()], ids=list(INTERACTIONS.names)
)
def test_ranker_state_dict_round_trip_and_move_to_meta(
    config_cls: type[InteractionConfig],
) -> None:
    x_num, x_cat = _tiny_inputs()
    config = _ranker_config(config_cls(), "parallel", True)
    torch.manual_seed(0)
    model = config.build(FeatureInputs.from_arrays(_x_train(N_NUM), CARDS), tasks=TASKS)
    torch.manual_seed(1)
    fresh = config.build(FeatureInputs.from_arrays(_x_train(N_NUM), CARDS), tasks=TASKS)
    fresh.load_state_dict(model.state_dict())
    model.eval()
    fresh.eval()
    with torch.no_grad():
        expected = model(x_num, x_cat)
        assert torch.equal(fresh(x_num, x_cat), expected)
        assert torch.equal(model(x_num, x_cat), expected)
    model.to("meta")
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        assert t.device.type == "meta", name
    with torch.no_grad():
        assert model(x_num.to("meta"), x_cat.to("meta")).shape == (B, TASKS)


BATCH_NORM_CASES = [
    *(pytest.param(config_cls(), id=name) for name, config_cls in BACKBONES.items()),
    pytest.param(MLPConfig(dims=(8,), norm="batch"), id="mlp-batch-norm"),
    pytest.param(DenseNetConfig(blocks=1, growth=8, norm="batch"), id="densenet-batch-norm"),
]


@pytest.mark.parametrize("backbone", BATCH_NORM_CASES)
def test_backbone_trains_when_an_epoch_ends_with_a_single_row(backbone: BackboneConfig) -> None:
    # 129 rows in batches of 128: the last batch of each epoch has one row, which batch norm
    # cannot normalise in training mode (the loop skips it).
    data = planted_dataset((5, 7), n_train=129, n_eval=64)
    config = NeuralConfig(
        model=RankerConfig(tokenizer=SMALL_TOKENIZER, backbone=backbone),
        train=TrainConfig(batch_size=128, max_epochs=1),
    )
    result = NEURAL.fit(config, data, TrainContext(seed=0, threads=1))
    assert result.curve[0].train_loss is not None and math.isfinite(result.curve[0].train_loss)
    assert 0.0 <= result.test.auc <= 1.0
