"""Dense vector features (``x_vec``) in the ranker: `VectorInputs`, the tokenizer's ``vectors``
mode, `FeatureInputs`' widths, and the ranker's refusal of a missing or mis-sized ``x_vec``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor

from harness.families.neural import NEURAL, NeuralConfig
from harness.models.backbones import MLPConfig
from harness.models.inputs import FeatureInputs
from harness.models.interactions import CrossConfig, DotConfig, FMConfig
from harness.models.ranker import Ranker, RankerConfig
from harness.models.spec import TensorKind
from harness.models.tokenizer import Tokenizer, TokenizerConfig, VectorInputs
from tests.models.test_model_contracts import _assert_module_contract
from tests.models.vector_data import WIDTHS, vector_dataset

N_NUM, CARDS, DIM = 3, (7, 5, 9), 8
WIDTH = sum(WIDTHS)


def _x_train(rows: int = 64) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(rows, N_NUM)).astype(np.float32)


def _inputs(widths: tuple[int, ...] = WIDTHS) -> FeatureInputs:
    return FeatureInputs.from_arrays(_x_train(), CARDS, vector_widths=widths)


def _batch(b: int = 16, width: int = WIDTH) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(0)
    x_num = torch.randn(b, N_NUM, generator=g)
    x_cat = torch.stack([torch.randint(0, c, (b,), generator=g) for c in CARDS], dim=1)
    x_vec = torch.nn.functional.normalize(torch.randn(b, width, generator=g), dim=1)
    return x_num, x_cat, x_vec


def _tokenizer(vectors: str, takes: TensorKind, widths: tuple[int, ...] = WIDTHS) -> Tokenizer:
    config = TokenizerConfig(embedding_dim=DIM, vectors=vectors)  # type: ignore[arg-type]
    return config.build(_inputs(widths), interaction_takes=takes)


# --- VectorInputs ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["tokens", "flat"])
def test_vector_inputs_shapes_and_module_contract(mode: str) -> None:
    x = torch.randn(5, WIDTH)
    v = VectorInputs(("title", "image"), WIDTHS, dim=DIM, mode=mode)
    expected = (5, len(WIDTHS), DIM) if mode == "tokens" else (5, WIDTH)
    assert v(x).shape == expected
    assert (v.fields, v.dense_width) == ((2, 0) if mode == "tokens" else (0, WIDTH))
    if mode == "tokens":  # flat mode starts from the same weights whatever the seed
        _assert_module_contract(lambda: VectorInputs(("a", "b"), WIDTHS, dim=DIM), x)
    else:
        v.to("meta")
        assert v(x.to("meta")).shape == expected


@pytest.mark.parametrize("mode", ["tokens", "flat"])
def test_vector_inputs_ignore_the_scale_of_each_vector(mode: str) -> None:
    # The LayerNorm: a unit-norm sentence embedding and the same vector times 1000 (a raw
    # column) give the same token; each feature is normalised on its own.
    v = VectorInputs(("a", "b"), (384, 24), dim=DIM, mode=mode)
    unit = torch.nn.functional.normalize
    x = torch.cat([unit(torch.randn(6, 384), dim=1), unit(torch.randn(6, 24), dim=1)], dim=1)
    scaled = x.clone()
    scaled[:, :384] *= 1000.0
    scaled[:, 384:] *= 0.1
    with torch.no_grad():
        assert torch.allclose(v(x), v(scaled), atol=1e-3)
        assert not torch.allclose(v(x), v(x.roll(1, dims=0)), atol=1e-2)


@pytest.mark.parametrize("width", [24, 384])
@pytest.mark.parametrize("dim", [8, 32])
def test_vector_tokens_start_at_the_numeric_tokens_scale(width: int, dim: int) -> None:
    # Unit-norm rows (components ~1/sqrt(width)) become token components of variance
    # ~1/(3d), as a numeric per-feature token of a unit value: neither drowned nor exploding.
    torch.manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(4096, width), dim=1)
    stds = []
    for seed in range(8):
        torch.manual_seed(seed)
        with torch.no_grad():
            stds.append(float(VectorInputs(("v",), (width,), dim=dim)(x).std()))
    # The weights give variance 1/(3d) and so does the bias: 2/(3d) in all.
    expected = math.sqrt(2.0 / (3 * dim))
    assert 0.8 * expected < np.mean(stds) < 1.2 * expected
    with torch.no_grad():
        flat = VectorInputs(("v",), (width,), dim=dim, mode="flat")(x)
    assert float(flat.std()) == pytest.approx(1.0, abs=0.02)


def test_a_missing_vector_becomes_the_learned_bias_and_stays_finite() -> None:
    v = VectorInputs(("a",), (6,), dim=4, mode="flat")
    x = torch.tensor([[float("nan")] * 6, [float("inf"), 1.0, 2.0, 3.0, 4.0, 5.0]])
    out = v(x)
    assert torch.isfinite(out).all()
    norm = v.norms[0]
    assert isinstance(norm, torch.nn.LayerNorm)
    assert torch.equal(out[0], norm.bias.detach())


def test_a_width_one_vector_is_not_normalised() -> None:
    v = VectorInputs(("a",), (1,), dim=4, mode="flat")
    x = torch.tensor([[2.0], [-3.0]])
    assert torch.equal(v(x), x)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "columns"}, "mode='columns'"),
        ({"dim": 0}, "dim=0"),
        ({"widths": (4, 0)}, "widths=\\(4, 0\\)"),
        ({"widths": ()}, "widths=\\(\\)"),
    ],
)
def test_vector_inputs_name_the_bad_argument(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"names": ("a", "b"), "widths": (4, 2), "dim": 4, **kwargs}
    if "widths" in kwargs:
        args["names"] = tuple(f"v{k}" for k in range(len(kwargs["widths"])))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=match):
        VectorInputs(**args)  # type: ignore[arg-type]


def test_vector_inputs_refuse_x_vec_of_another_width_naming_the_features() -> None:
    v = VectorInputs(("title", "image"), WIDTHS, dim=DIM)
    with pytest.raises(ValueError, match=r"title \(24\), image \(8\).*got \(3, 30\)"):
        v(torch.zeros(3, 30))


# --- FeatureInputs --------------------------------------------------------------------------


def test_feature_inputs_take_the_widths_from_the_schema_and_from_arrays() -> None:
    data = vector_dataset(32, 8)
    inputs = FeatureInputs.of(data)
    assert inputs.vectors == data.schema.vectors
    assert inputs.vector_widths == WIDTHS and inputs.vector_width == WIDTH
    x_vec = np.zeros((10, 12), dtype=np.float32)
    assert FeatureInputs.from_arrays(_x_train(), x_vec=x_vec).vector_widths == (12,)
    split = FeatureInputs.from_arrays(_x_train(), x_vec=x_vec, vector_widths=(5, 7))
    assert [v.name for v in split.vectors] == ["v0", "v1"] and split.vector_widths == (5, 7)
    assert FeatureInputs.from_arrays(_x_train()).vectors == ()
    with pytest.raises(ValueError, match="add up to 11, x_vec has 12"):
        FeatureInputs.from_arrays(_x_train(), x_vec=x_vec, vector_widths=(5, 6))


# --- the tokenizer --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vectors", "takes", "resolved"),
    [
        ("auto", "tokens", "tokens"),
        ("auto", "flat", "flat"),
        ("tokens", "flat", "tokens"),
        ("flat", "tokens", "flat"),
    ],
)
def test_auto_gives_tokens_to_token_interactions_and_flat_to_flat_ones(
    vectors: str, takes: TensorKind, resolved: str
) -> None:
    tok = _tokenizer(vectors, takes)
    assert tok.vectors is not None and tok.vectors.mode == resolved


def test_vector_tokens_come_after_the_categorical_tokens() -> None:
    # The first tokens (numeric, then categorical) are the ones a tokenizer without vectors
    # gives, with the same weights; then one token per vector feature.
    tok = _tokenizer("tokens", "tokens")
    plain = TokenizerConfig(embedding_dim=DIM).build(
        FeatureInputs.from_arrays(_x_train(), CARDS), interaction_takes="tokens"
    )
    missing = plain.load_state_dict(tok.state_dict(), strict=False)
    assert not missing.missing_keys
    assert {k.split(".")[0] for k in missing.unexpected_keys} == {"vectors"}
    x_num, x_cat, x_vec = _batch()
    with torch.no_grad():
        got, base = tok(x_num, x_cat, x_vec), plain(x_num, x_cat)
    assert got.tokens is not None and base.tokens is not None and tok.tokens is not None
    n_base = base.tokens.shape[1]
    assert tok.tokens.fields == n_base + len(WIDTHS) == got.tokens.shape[1]
    # DLRM's dense part (the leading numeric tokens) does not move.
    assert tok.tokens.numeric_fields == N_NUM == plain.tokens.numeric_fields  # type: ignore[union-attr]
    assert torch.equal(got.tokens[:, :n_base], base.tokens)
    assert tok.vectors is not None
    assert torch.equal(got.tokens[:, n_base:], tok.vectors(x_vec))
    assert got.dense is None


def test_flat_vectors_join_the_dense_part_after_the_others() -> None:
    tok = _tokenizer("flat", "flat")
    plain = TokenizerConfig(embedding_dim=DIM).build(
        FeatureInputs.from_arrays(_x_train(), CARDS), interaction_takes="flat"
    )
    plain.load_state_dict(tok.state_dict(), strict=False)
    x_num, x_cat, x_vec = _batch()
    with torch.no_grad():
        got, base = tok(x_num, x_cat, x_vec), plain(x_num, x_cat)
    assert got.dense is not None and base.dense is not None
    assert tok.dense_width == plain.dense_width + WIDTH == got.dense.shape[1]
    assert tok.flat_width == plain.flat_width + WIDTH
    assert torch.equal(got.dense[:, : plain.dense_width], base.dense)
    assert tok.vectors is not None
    assert torch.equal(got.dense[:, plain.dense_width :], tok.vectors(x_vec))


def test_the_config_rejects_an_unknown_vectors_mode() -> None:
    with pytest.raises(ValueError, match="vectors must be one of auto, tokens, flat"):
        TokenizerConfig(vectors="columns")  # type: ignore[arg-type]


def test_vector_features_alone_are_an_input() -> None:
    # Two vector features: token interactions pair at least two tokens.
    inputs = FeatureInputs.from_arrays(np.zeros((8, 0), dtype=np.float32), vector_widths=(10, 6))
    for interaction, mode in ((FMConfig(), "tokens"), (CrossConfig(layers=1), "flat")):
        model = RankerConfig(
            tokenizer=TokenizerConfig(embedding_dim=4, vectors=mode),  # type: ignore[arg-type]
            interaction=interaction,
            backbone=MLPConfig(dims=(8,)),
        ).build(inputs, tasks=1)
        out = model(torch.zeros(3, 0), torch.zeros(3, 0, dtype=torch.long), torch.randn(3, 16))
        assert out.shape == (3, 1)


# --- the ranker -----------------------------------------------------------------------------

RANKERS = {
    "dcnv2-flat": RankerConfig(
        tokenizer=TokenizerConfig(embedding_dim=DIM, numeric_tokens="flat"),
        interaction=CrossConfig(layers=2),
        backbone=MLPConfig(dims=(16,)),
    ),
    "dlrm-tokens": RankerConfig(
        tokenizer=TokenizerConfig(embedding_dim=DIM, numeric_tokens="mlp", bottom_dims=(8,)),
        interaction=DotConfig(),
        backbone=MLPConfig(dims=(16,)),
    ),
    "deepfm-tokens": RankerConfig(
        tokenizer=TokenizerConfig(embedding_dim=DIM),
        interaction=FMConfig(),
        backbone=MLPConfig(dims=(16,)),
        topology="parallel",
        wide=True,
    ),
}


def _ranker(name: str, inputs: FeatureInputs | None = None) -> Ranker:
    torch.manual_seed(0)
    return RANKERS[name].build(inputs or _inputs(), tasks=2)


@pytest.mark.parametrize("name", sorted(RANKERS))
def test_a_ranker_with_vectors_refuses_a_missing_x_vec_naming_it(name: str) -> None:
    model = _ranker(name)
    x_num, x_cat, _ = _batch()
    with pytest.raises(ValueError, match=r"v0 \(24\), v1 \(8\).*x_vec \(B, 32\).*x_vec=None"):
        model(x_num, x_cat)
    with pytest.raises(ValueError, match=r"x_vec: expected \(B, 32\)"):
        model(x_num, x_cat, torch.zeros(len(x_num), 31))


@pytest.mark.parametrize("name", sorted(RANKERS))
def test_the_logits_follow_the_vectors(name: str) -> None:
    model = _ranker(name).eval()
    x_num, x_cat, x_vec = _batch()
    with torch.no_grad():
        out = model(x_num, x_cat, x_vec)
        again = model(x_num, x_cat, x_vec.clone())
        other = model(x_num, x_cat, x_vec.roll(1, dims=0))
    assert out.shape == (len(x_num), 2)
    assert torch.equal(out, again)
    assert not torch.allclose(out, other)


def test_a_ranker_without_vectors_keeps_its_two_argument_call() -> None:
    model = RANKERS["dlrm-tokens"].build(FeatureInputs.from_arrays(_x_train(), CARDS), tasks=1)
    x_num, x_cat, _ = _batch()
    with torch.no_grad():
        assert torch.equal(model(x_num, x_cat), model(x_num, x_cat, None))
    with pytest.raises(ValueError, match="built without vector features"):
        model(x_num, x_cat, torch.zeros(len(x_num), 4))


def test_the_wide_part_ignores_the_vectors() -> None:
    model = _ranker("deepfm-tokens")
    assert model.wide is not None
    plain = _ranker("deepfm-tokens", FeatureInputs.from_arrays(_x_train(), CARDS))
    assert plain.wide is not None
    shapes = {k: v.shape for k, v in model.wide.state_dict().items()}
    assert shapes == {k: v.shape for k, v in plain.wide.state_dict().items()}


@pytest.mark.parametrize("extra", [False, True], ids=["plain", "auxiliary-head"])
def test_validate_runs_the_meta_forward_pass_with_x_vec(extra: bool) -> None:
    from harness.training.config import TrainConfig
    from harness.training.distill import DistillConfig

    data = vector_dataset(32, 8)
    distill = DistillConfig(teacher="t", auxiliary_head=True) if extra else DistillConfig()
    config = NeuralConfig(model=RANKERS["dlrm-tokens"], train=TrainConfig(distill=distill))
    NEURAL.validate(config, data)  # raises if the ranker's forward pass fails
