"""Mixed precision: bf16 autocast computes matrix products in bf16 and keeps everything else fp32.

bf16 is forced where a test needs it (``bf16_supported`` patched to True): autocast runs on any
CPU, emulated where there is no native bf16, so these tests do not depend on the machine.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from harness.data.schema import EncodedDataset
from harness.errors import HarnessError
from harness.families.neural import NeuralConfig, build_ranker
from harness.fitting import TrainContext
from harness.models import MLPConfig, RankerConfig, TokenizerConfig
from harness.models.embeddings import EMBEDDINGS
from harness.models.interactions import AutoIntConfig, CrossConfig, FMConfig
from harness.models.numeric import NUMERIC_ENCODINGS
from harness.training import TrainConfig, fit, make_loader, make_optimizers, predict, train_step
from harness.training import precision as precision_module
from harness.training.losses import task_loss
from harness.training.precision import bf16_supported, resolve_precision
from harness.tuning.space import load_search_space, space_from_mapping
from tests.planted import planted_dataset as planted_criteo

ROOT = Path(__file__).resolve().parents[2] / "search_spaces"
NEURAL = sorted(p.stem for p in ROOT.glob("*.toml") if 'family = "neural"' in p.read_text())
CPU = torch.device("cpu")
SMALL = RankerConfig(
    tokenizer=TokenizerConfig(embedding_dim=8),
    interaction=CrossConfig(layers=2),
    backbone=MLPConfig(dims=(32, 16)),
)


def _train(**changes: object) -> TrainConfig:
    base: dict[str, object] = {
        "batch_size": 128,
        "max_epochs": 4,
        "patience": 4,
        "learning_rate": 1e-2,
        "embedding_learning_rate": 3e-2,
    }
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


def _model(data: EncodedDataset, model: RankerConfig = SMALL, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_ranker(NeuralConfig(model=model), data)


@pytest.fixture
def native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision_module, "bf16_supported", lambda device: True)


@pytest.fixture
def no_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision_module, "bf16_supported", lambda device: False)


@pytest.fixture
def linear_dtypes() -> Iterator[Callable[[nn.Module], list[torch.dtype]]]:
    """Hooks every ``nn.Linear`` of a model; the call returns the output dtypes seen so far."""
    handles: list[torch.utils.hooks.RemovableHandle] = []

    def watch(model: nn.Module) -> list[torch.dtype]:
        seen: list[torch.dtype] = []

        def hook(_m: nn.Module, _args: object, out: Tensor) -> None:
            seen.append(out.dtype)

        handles.extend(
            m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Linear)
        )
        return seen

    yield watch
    for handle in handles:
        handle.remove()


# --- config ------------------------------------------------------------------------------------


def test_config_rejects_an_unknown_precision_in_one_line() -> None:
    with pytest.raises(ValueError) as e:
        TrainConfig(precision="fp16")  # type: ignore[arg-type]
    assert str(e.value) == "TrainConfig.precision must be one of auto, fp32, bf16, got 'fp16'"
    assert TrainConfig().precision == "auto"


def test_a_search_space_sets_the_precision_as_model_train_precision() -> None:
    raw = {"family": "neural", "train": {"precision": {"choice": ["fp32", "bf16"]}}}
    space = space_from_mapping(raw, name="mixed", where="mixed.toml")
    assert space.names == ("train.precision",)
    assert space.config_at({"train.precision": "bf16"}).train.precision == "bf16"
    assert space.config_at({}).train.precision == "fp32"
    bad = {"family": "neural", "train": {"precision": "fp16"}}
    with pytest.raises(HarnessError, match=r"mixed\.toml: train\.precision"):
        space_from_mapping(bad, name="mixed", where="mixed.toml")


# --- what runs in bf16 and what stays fp32 --------------------------------------------------------


def test_bf16_computes_linear_layers_in_bf16_and_keeps_loss_weights_and_states_fp32(
    make_dataset: Callable[..., EncodedDataset],
    linear_dtypes: Callable[[nn.Module], list[torch.dtype]],
) -> None:
    data = make_dataset(256)
    model = _model(data)
    seen = linear_dtypes(model)
    optimizers = make_optimizers(model, _train())
    batch = next(iter(make_loader(data.train, 64, shuffle=True)))
    loss = train_step(model, batch, optimizers, autocast_dtype=torch.bfloat16)
    assert seen and set(seen) == {torch.bfloat16}
    assert loss.dtype == torch.float32 and math.isfinite(float(loss))
    for name, p in model.named_parameters():
        assert p.dtype == torch.float32, name
        assert p.grad is not None and p.grad.dtype == torch.float32, name
    tables = [m.weight for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse]
    assert tables and all(t.grad is not None and t.grad.is_sparse for t in tables)
    states = [v for opt in optimizers for s in opt.state.values() for v in s.values()]
    moments = [t for t in states if isinstance(t, Tensor) and t.numel() > 1]
    assert moments and all(t.dtype == torch.float32 for t in moments)

    seen.clear()
    probs = predict(model, data.test, CPU, batch_size=100, autocast_dtype=torch.bfloat16)
    assert set(seen) == {torch.bfloat16}
    assert probs.dtype == np.float32 and probs.shape == (data.test.n_rows, 1)
    assert np.all((probs > 0) & (probs < 1))


def test_fp32_computes_linear_layers_in_fp32(
    make_dataset: Callable[..., EncodedDataset],
    linear_dtypes: Callable[[nn.Module], list[torch.dtype]],
) -> None:
    data = make_dataset(256)
    model = _model(data)
    seen = linear_dtypes(model)
    batch = next(iter(make_loader(data.train, 64, shuffle=True)))
    train_step(model, batch, make_optimizers(model, _train()))
    predict(model, data.test, CPU)
    assert seen and set(seen) == {torch.float32}


def test_the_fp32_step_is_bit_identical_to_the_step_before_mixed_precision(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    # The step as it was written before mixed precision existed, run next to train_step.
    data = make_dataset(512)
    cfg = _train()
    ours, before = _model(data), _model(data)
    ours_opts, before_opts = make_optimizers(ours, cfg), make_optimizers(before, cfg)
    for batch in make_loader(data.train, 64, shuffle=True, seed=3):
        loss = train_step(ours, batch, ours_opts)
        old = task_loss(before(batch.x_num, batch.x_cat), batch.y)
        for opt in before_opts:
            opt.zero_grad(set_to_none=True)
        torch.autograd.backward(old)
        for opt in before_opts:
            opt.step()
        assert torch.equal(loss, old.detach())
    for (name, a), b in zip(ours.state_dict().items(), before.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_fp32_and_auto_resolving_to_fp32_give_the_same_fit(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(1024)
    # The small ranker has far fewer linear weights than any model bf16 measured faster on.
    assert resolve_precision("auto", CPU, _model(data)).dtype is None
    fits = {}
    for precision in ("fp32", "auto"):
        model = _model(data)
        result = fit(model, data, _train(max_epochs=2, precision=precision), TrainContext())
        fits[precision] = (result, model.state_dict())
    (fp32, fp32_state), (auto, auto_state) = fits["fp32"], fits["auto"]
    assert fp32.test == auto.test and fp32.valid == auto.valid and fp32.notes == auto.notes == ""
    assert all(torch.equal(fp32_state[k], auto_state[k]) for k in fp32_state)


# --- fits --------------------------------------------------------------------------------------

# Measured on this noisy planted dataset (labels drawn from a logit of numeric and per-id terms;
# 4096 training rows, 4 epochs, the small DCN-v2), seeds 0-4: bf16 - fp32 test AUC in
# [-0.0005, +0.0021] (both about 0.93), logloss in [-0.0044, +0.0008]. Bounds of about twice that.
AUC_GAP, LOGLOSS_GAP = 0.005, 0.01


@pytest.mark.usefixtures("native_bf16")
def test_a_bf16_fit_learns_as_well_as_fp32(
    linear_dtypes: Callable[[nn.Module], list[torch.dtype]],
) -> None:
    data = planted_criteo([20] * 6, n_train=4096, n_eval=2048)
    bf16_model = _model(data)
    seen = linear_dtypes(bf16_model)
    bf16 = fit(bf16_model, data, _train(precision="bf16"), TrainContext())
    fp32 = fit(_model(data), data, _train(precision="fp32"), TrainContext())
    assert bf16.notes == "bf16 autocast"
    assert set(seen) == {torch.bfloat16}  # training and scoring
    assert bf16.test.auc > 0.9
    assert abs(bf16.test.auc - fp32.test.auc) < AUC_GAP
    assert abs(bf16.test.logloss - fp32.test.logloss) < LOGLOSS_GAP
    assert all(p.dtype == torch.float32 for p in bf16_model.parameters())


@pytest.mark.usefixtures("no_bf16")
def test_bf16_without_native_support_trains_in_fp32_and_says_so(
    make_dataset: Callable[..., EncodedDataset],
    linear_dtypes: Callable[[nn.Module], list[torch.dtype]],
) -> None:
    data = make_dataset(512)
    model = _model(data)
    seen = linear_dtypes(model)
    result = fit(model, data, _train(max_epochs=1, precision="bf16"), TrainContext())
    assert result.notes == "precision bf16 asked for, but cpu has no native bf16: trained in fp32"
    assert seen and set(seen) == {torch.float32}
    reference = fit(_model(data), data, _train(max_epochs=1, precision="fp32"), TrainContext())
    assert result.test == reference.test


# --- what "auto" picks --------------------------------------------------------------------------


def _wide(interaction: object = None, **changes: object) -> RankerConfig:
    config = RankerConfig(tokenizer=TokenizerConfig(embedding_dim=16), backbone=MLPConfig())
    if interaction is not None:
        config = dataclasses.replace(config, interaction=interaction)  # type: ignore[arg-type]
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


@pytest.mark.usefixtures("native_bf16")
def test_auto_turns_bf16_on_where_it_measured_faster() -> None:
    data = planted_criteo([50] * 26, n_train=64, n_eval=16)
    dcnv2 = _model(data, _wide())
    assert resolve_precision("auto", CPU, dcnv2).dtype == torch.bfloat16
    assert resolve_precision("auto", CPU, dcnv2).note == "bf16 autocast (precision auto)"
    # Attention measured slower in bf16 on the CPU; FM alone has nothing for bf16 to speed up.
    autoint = _model(data, _wide(AutoIntConfig(), topology="parallel"))
    fm = _model(data, _wide(FMConfig(), backbone=MLPConfig(dims=(4,))))
    assert resolve_precision("auto", CPU, autoint).dtype is None
    assert resolve_precision("auto", CPU, fm).dtype is None
    # Not measured on CUDA: fp32 there unless asked for.
    cuda = torch.device("cuda")
    assert resolve_precision("auto", cuda, dcnv2).dtype is None
    assert resolve_precision("bf16", cuda, dcnv2).dtype == torch.bfloat16
    assert resolve_precision("fp32", CPU, dcnv2) == precision_module.PrecisionChoice(None, "")


@pytest.mark.usefixtures("no_bf16")
def test_auto_without_native_bf16_is_fp32_without_a_note() -> None:
    data = planted_criteo([50] * 26, n_train=64, n_eval=16)
    assert resolve_precision("auto", CPU, _model(data, _wide())).note == ""


def test_native_bf16_is_read_from_the_cpu_flags() -> None:
    assert bf16_supported(torch.device("meta")) is False
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo to compare with")
    flags = {
        f
        for line in cpuinfo.read_text().splitlines()
        if line.startswith("flags")
        for f in line.split()
    }
    assert bf16_supported(CPU) == bool({"avx512_bf16", "amx_bf16"} & flags)


# --- every part trains in bf16 ------------------------------------------------------------------


def _bf16_step(config: NeuralConfig, data: EncodedDataset) -> None:
    torch.manual_seed(0)
    model = build_ranker(config, data)
    optimizers = make_optimizers(model, config.train)
    batch = next(iter(make_loader(data.train, 32, shuffle=True)))
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    loss = float(train_step(model, batch, optimizers, autocast_dtype=torch.bfloat16))
    assert math.isfinite(loss) and loss > 0
    assert all(v.dtype == before[k].dtype for k, v in model.state_dict().items())
    assert any(not torch.equal(v, before[k]) for k, v in model.state_dict().items())
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        logits = model.eval()(batch.x_num, batch.x_cat)
    assert torch.isfinite(logits.float()).all()


@pytest.mark.parametrize("name", NEURAL)
@pytest.mark.parametrize("corner", [0, -1])
def test_every_preset_takes_a_finite_bf16_step(name: str, corner: int) -> None:
    space = load_search_space(ROOT / f"{name}.toml")
    config = space.config_at({p.name: p.ends()[corner] for p in space.params})
    single = planted_criteo([30] * 8, n_train=64, n_eval=16)
    # Two tasks (the label and its complement), so that the multi-task heads run too.
    train, valid, test = (
        dataclasses.replace(s, y=np.hstack([s.y, 1 - s.y]))
        for s in (single.train, single.valid, single.test)
    )
    schema = dataclasses.replace(single.schema, labels=("a", "b"))
    data = dataclasses.replace(single, schema=schema, train=train, valid=valid, test=test)
    _bf16_step(config, data)


@pytest.mark.parametrize("kind", EMBEDDINGS.names)
def test_every_categorical_embedding_trains_in_bf16(kind: str) -> None:
    tokenizer = dataclasses.replace(SMALL.tokenizer, embedding=EMBEDDINGS.get(kind)())
    config = NeuralConfig(model=dataclasses.replace(SMALL, tokenizer=tokenizer))
    _bf16_step(config, planted_criteo([30] * 8, n_train=64, n_eval=16))


@pytest.mark.parametrize("kind", NUMERIC_ENCODINGS.names)
def test_every_numeric_encoding_trains_in_bf16(kind: str) -> None:
    tokenizer = dataclasses.replace(SMALL.tokenizer, numeric=NUMERIC_ENCODINGS.get(kind)())
    config = NeuralConfig(model=dataclasses.replace(SMALL, tokenizer=tokenizer))
    _bf16_step(config, planted_criteo([30] * 8, n_train=64, n_eval=16))
