"""One contract every registered block passes: a new block is tested by being registered."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.models.backbones import BACKBONES, Backbone
from harness.models.interactions import INTERACTIONS, Interaction
from harness.models.numeric import NUMERIC_ENCODINGS, NumericEncoding

B, D_IN = 5, 12


def _x_train(n_features: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.lognormal(0.0, 2.0, size=(64, n_features)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    return x


# --- numeric encodings --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NUMERIC_ENCODINGS))
@pytest.mark.parametrize("missing_indicator", [False, True])
def test_numeric_shape_and_finite_on_nan(name: str, missing_indicator: bool) -> None:
    x_train = _x_train(4)
    enc = NUMERIC_ENCODINGS[name].from_train(x_train, missing_indicator=missing_indicator)
    assert isinstance(enc, NumericEncoding)
    assert enc.n_features == 4
    x = torch.tensor(
        [[np.nan, 0.0, -3.0, 1e30], [1.0, np.nan, np.nan, -1e30], [2.0, 5.0, 7.0, 0.5]],
        dtype=torch.float32,
    )
    out = enc(x)
    assert out.shape == (3, 4, enc.d_out)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(NUMERIC_ENCODINGS))
def test_numeric_missing_indicator_widens_output(name: str) -> None:
    x_train = _x_train(3)
    without = NUMERIC_ENCODINGS[name].from_train(x_train, missing_indicator=False)
    with_ind = NUMERIC_ENCODINGS[name].from_train(x_train, missing_indicator=True)
    assert with_ind.d_out == without.d_out + 1
    x = torch.tensor([[np.nan, 1.0, 2.0]])
    # The last channel flags the missing value and only it.
    assert with_ind(x)[0, :, -1].tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("name", sorted(NUMERIC_ENCODINGS))
def test_numeric_zero_features(name: str) -> None:
    enc = NUMERIC_ENCODINGS[name].from_train(np.zeros((10, 0), dtype=np.float32))
    assert enc(torch.zeros(B, 0)).shape == (B, 0, enc.d_out)


@pytest.mark.parametrize("name", sorted(NUMERIC_ENCODINGS))
def test_numeric_gradient_flows_to_parameters_or_input(name: str) -> None:
    enc = NUMERIC_ENCODINGS[name].from_train(_x_train(3))
    x = torch.tensor([[0.5, -2.0, 3.0]], requires_grad=True)
    enc(x).sum().backward()
    grads = [x.grad] + [p.grad for p in enc.parameters()]
    assert any(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", sorted(NUMERIC_ENCODINGS))
def test_numeric_rejects_bad_train_array(name: str) -> None:
    with pytest.raises(ValueError, match="x_train"):
        NUMERIC_ENCODINGS[name].from_train(np.zeros(10, dtype=np.float32))


@pytest.mark.parametrize("name", sorted(NUMERIC_ENCODINGS))
def test_numeric_rejects_wrong_input_width(name: str) -> None:
    enc = NUMERIC_ENCODINGS[name].from_train(_x_train(3))
    with pytest.raises(ValueError, match="x_num"):
        enc(torch.zeros(B, 4))


# --- interactions and backbones: both (B, d_in) -> (B, d_out) -----------------------------------

BLOCKS: list[tuple[str, type[Interaction] | type[Backbone]]] = [
    *((f"interaction:{k}", v) for k, v in sorted(INTERACTIONS.items())),
    *((f"backbone:{k}", v) for k, v in sorted(BACKBONES.items())),
]
BLOCK_IDS = [name for name, _ in BLOCKS]


@pytest.mark.parametrize(("name", "cls"), BLOCKS, ids=BLOCK_IDS)
def test_block_shape_and_widths(name: str, cls: type[Interaction] | type[Backbone]) -> None:
    block = cls(D_IN)
    assert block.d_in == D_IN
    out = block(torch.randn(B, D_IN))
    assert out.shape == (B, block.d_out)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(("name", "cls"), BLOCKS, ids=BLOCK_IDS)
def test_block_gradient_reaches_input_and_every_parameter(
    name: str, cls: type[Interaction] | type[Backbone]
) -> None:
    torch.manual_seed(0)
    block = cls(D_IN)
    x = torch.randn(B, D_IN, requires_grad=True)
    block(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for pname, p in block.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize(("name", "cls"), BLOCKS, ids=BLOCK_IDS)
@pytest.mark.parametrize("d_in", [0, -3])
def test_block_rejects_bad_width_naming_it(
    name: str, cls: type[Interaction] | type[Backbone], d_in: int
) -> None:
    with pytest.raises(ValueError, match=rf"d_in={d_in}"):
        cls(d_in)


@pytest.mark.parametrize(("name", "cls"), BLOCKS, ids=BLOCK_IDS)
def test_block_keyword_choices_are_keyword_only(
    name: str, cls: type[Interaction] | type[Backbone]
) -> None:
    import inspect

    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    positional = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    # d_in plus at most one structural size (n_layers, dims); every choice is keyword-only.
    assert positional[0].name == "d_in"
    assert len(positional) <= 2
    assert all(p.default is not p.empty for p in params[1:])
