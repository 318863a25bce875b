"""Categorical embeddings: a contract every registered kind passes, and each kind's properties.

The contract suite iterates over ``EMBEDDINGS`` (every kind with its defaults) plus variants
whose code paths differ: growing sizes (``log2``, ``root4``) for a token interaction (projected
to ``d``) and for a flat one (concatenated as they are), frequency clipping, absolute table
sizes. A new kind is tested by being registered.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

from harness.models.backbones import MLPConfig
from harness.models.embeddings import (
    EMBEDDINGS,
    CategoricalEmbedding,
    EmbeddingConfig,
    FeatureHash,
    FusedConfig,
    FusedEmbedding,
    HashingConfig,
    MultiHashConfig,
    MultiHashEmbedding,
    TablesConfig,
)
from harness.models.embeddings.base import output_for
from harness.models.embeddings.clipping import clip_limits
from harness.models.embeddings.hashes import feature_seeds, hash_ids, hash_ids_numpy
from harness.models.embeddings.hashing import hashed_rows
from harness.models.embeddings.sizes import embedding_dims
from harness.models.inputs import FeatureInputs
from harness.models.interactions import CrossConfig, FMConfig, InteractionConfig
from harness.models.ranker import RankerConfig
from harness.models.spec import TensorKind
from harness.models.tokenizer import TokenizerConfig
from harness.models.wide import Wide
from harness.training.config import TrainConfig
from harness.training.loop import make_optimizers
from tests.models.test_model_contracts import _assert_module_contract

B, D = 6, 8
CARDS = (7, 40, 3, 200)
MIN_COUNT = 12


def _counts(n: int) -> np.ndarray:
    """Training counts of ``n`` ids: 0 and 1 anything, ids 2.. in descending order."""
    counts = np.zeros(n, dtype=np.int64)
    counts[0], counts[1] = 2, 9  # the missing id is never clipped, whatever its count
    if n > 2:
        counts[2:] = 400 // np.arange(1, n - 1)  # 400, 200, 133, ... 2
    return counts


INPUTS = FeatureInputs(numeric=(), cardinalities=CARDS, counts=tuple(_counts(n) for n in CARDS))
LIMITS = clip_limits(CARDS, INPUTS.counts, MIN_COUNT)
assert LIMITS == (7, 35, 3, 35)  # ids with 400 // (id - 1) < 12 training rows are clipped


def _ids(n: int = B, *, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, c, (n,), generator=g) for c in CARDS], dim=1)


# --- the contract -------------------------------------------------------------------------------

CASES = [
    *(pytest.param(cls(), "tokens", id=name) for name, cls in EMBEDDINGS.items()),
    *(pytest.param(cls(), "flat", id=f"{name}-flat") for name, cls in EMBEDDINGS.items()),
    *(
        pytest.param(cls(min_count=MIN_COUNT), "tokens", id=f"{name}-min-count")
        for name, cls in EMBEDDINGS.items()
    ),
    *(
        pytest.param(cls(size=size), takes, id=f"{name}-{size}-{takes}")  # type: ignore[arg-type]
        for name, cls in EMBEDDINGS.items()
        if name != "multihash"  # one shared table: a single size
        for size in ("log2", "root4")
        for takes in ("tokens", "flat")
    ),
    pytest.param(
        FusedConfig(size="log2", size_scale=0.5, max_dim=3, min_count=MIN_COUNT),
        "flat",
        id="fused-log2-capped-clipped-flat",
    ),
    pytest.param(HashingConfig(rows=16, min_count=MIN_COUNT), "tokens", id="hashing-rows"),
    pytest.param(MultiHashConfig(hashes=4, rows=100), "tokens", id="multihash-4-rows"),
]
cases = pytest.mark.parametrize(("config", "takes"), CASES)


def _build(config: EmbeddingConfig, takes: TensorKind) -> CategoricalEmbedding:
    return config.build(INPUTS, dim=D, takes=takes)


def _feature_slices(emb: CategoricalEmbedding) -> list[slice]:
    """Where each feature's vector lies in a flat output."""
    starts = np.cumsum((0, *emb.dims)).tolist()
    return [slice(a, b) for a, b in itertools.pairwise(starts)]


@cases
def test_shape_output_kind_and_width(config: EmbeddingConfig, takes: TensorKind) -> None:
    emb = _build(config, takes)
    vocabulary = LIMITS if config.min_count > 1 else CARDS
    assert emb.vocabulary == vocabulary
    assert emb.dims == config.dims(vocabulary, D)
    assert emb.output == output_for(emb.dims, D, takes)
    out = emb(_ids())
    if emb.output == "tokens":
        assert out.shape == (B, len(CARDS), D) and emb.width == D
    else:
        assert takes == "flat" and len(set(emb.dims)) > 1
        assert out.shape == (B, sum(emb.dims)) and emb.width == sum(emb.dims)
    assert torch.isfinite(out).all()


def _vector(emb: CategoricalEmbedding, out: Tensor, j: int) -> Tensor:
    """Feature ``j``'s token or flat slice in ``out``."""
    return out[:, j] if emb.output == "tokens" else out[:, _feature_slices(emb)[j]]


@cases
def test_each_feature_moves_only_its_own_token_or_slice(
    config: EmbeddingConfig, takes: TensorKind
) -> None:
    emb = _build(config, takes).eval()
    x = torch.ones(1, len(CARDS), dtype=torch.long)  # the rare id everywhere
    base = emb(x)
    for j in range(len(CARDS)):
        moved = x.clone()
        moved[0, j] = 0  # the missing id has a row of its own in every kind
        out = emb(moved)
        for k in range(len(CARDS)):
            same = torch.equal(_vector(emb, out, k), _vector(emb, base, k))
            assert same == (k != j), (j, k)


@cases
def test_rejects_out_of_range_ids_and_bad_shapes_on_cpu(
    config: EmbeddingConfig, takes: TensorKind
) -> None:
    emb = _build(config, takes)
    x = _ids()
    x[2, 1] = CARDS[1]
    with pytest.raises(ValueError, match=f"feature 1: id {CARDS[1]} outside"):
        emb(x)
    x[2, 1] = -1
    with pytest.raises(ValueError, match="feature 1: id -1 outside"):
        emb(x)
    with pytest.raises(ValueError, match="expected ids of shape"):
        emb(_ids()[:, :2])


@cases
def test_module_contract(config: EmbeddingConfig, takes: TensorKind) -> None:
    x = _ids(seed=1)

    def build() -> nn.Module:
        return _build(config, takes)

    _assert_module_contract(build, x)  # state_dict round trip, deterministic, .to("meta")


@cases
def test_builds_and_runs_on_the_meta_device(config: EmbeddingConfig, takes: TensorKind) -> None:
    with torch.device("meta"):
        emb = _build(config, takes)
        out = emb(torch.zeros(B, len(CARDS), dtype=torch.long))
    assert out.device.type == "meta"
    assert out.shape == ((B, len(CARDS), D) if emb.output == "tokens" else (B, emb.width))


@cases
def test_gradients_are_sparse_and_reach_every_table(
    config: EmbeddingConfig, takes: TensorKind
) -> None:
    emb = _build(config, takes)
    out = emb(_ids(32))
    (out * torch.randn_like(out)).sum().backward()
    tables = [m for m in emb.modules() if isinstance(m, nn.Embedding)]
    assert tables and all(t.sparse for t in tables)
    for name, p in emb.named_parameters():
        assert p.grad is not None, name
        is_table = any(p is t.weight for t in tables)
        assert p.grad.is_sparse == is_table, name
        g = p.grad.coalesce().values() if p.grad.is_sparse else p.grad
        assert torch.isfinite(g).all() and g.abs().sum() > 0, name
    # The training loop gives exactly the tables to SparseAdam.
    sparse_opt = make_optimizers(emb, TrainConfig())[0]
    assert isinstance(sparse_opt, torch.optim.SparseAdam)
    assert {id(p) for p in sparse_opt.param_groups[0]["params"]} == {id(t.weight) for t in tables}


@cases
def test_rare_and_clipped_ids_share_the_rare_vector(
    config: EmbeddingConfig, takes: TensorKind
) -> None:
    emb = _build(config, takes).eval()
    rare = torch.ones(1, len(CARDS), dtype=torch.long)
    top = torch.tensor([[c - 1 for c in CARDS]])  # the least frequent id of each feature
    clipped = config.min_count > 1
    assert emb.clip_to == (LIMITS if clipped else None)
    expected = [
        1 if clipped and limit < n else n - 1 for n, limit in zip(CARDS, LIMITS, strict=True)
    ]
    assert emb._prepare(top)[0].tolist() == expected
    out_top, out_rare = emb(top), emb(rare)
    for j, (n, limit) in enumerate(zip(CARDS, LIMITS, strict=True)):
        if clipped and limit < n:
            assert torch.equal(_vector(emb, out_top, j), _vector(emb, out_rare, j))


def _expected_params(config: EmbeddingConfig, emb: CategoricalEmbedding) -> int:
    """Table rows x sizes, plus a ``size x D`` projection per feature whose token is projected."""
    vocabulary = LIMITS if config.min_count > 1 else CARDS
    if isinstance(config, MultiHashConfig):
        return config.table_rows(vocabulary) * (D // config.hashes)
    rows = vocabulary
    if isinstance(config, HashingConfig):
        rows = hashed_rows(vocabulary, ratio=config.ratio, rows=config.rows)
    tables = sum(r * e for r, e in zip(rows, emb.dims, strict=True))
    projections = sum(e * D for e in emb.dims if e != D) if emb.output == "tokens" else 0
    return tables + projections


@cases
def test_footprint_is_the_parameter_bytes(config: EmbeddingConfig, takes: TensorKind) -> None:
    tokenizer = TokenizerConfig(embedding_dim=D, embedding=config).build(
        INPUTS, interaction_takes=takes
    )
    assert tokenizer.embedding is not None
    footprint = tokenizer.embedding_footprint()
    params = _expected_params(config, tokenizer.embedding)
    assert footprint.params == params
    assert footprint.bytes == 4 * params  # float32
    actual = sum(p.numel() * p.element_size() for p in tokenizer.embedding.parameters())
    assert footprint.bytes == actual


class _RecordOps(TorchDispatchMode):
    """Records the aten ops a block of code dispatches."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.ops.append(func.__name__.split(".")[0])
        return func(*args, **(kwargs or {}))


def test_the_default_path_is_the_id_check_one_add_and_one_lookup() -> None:
    # The DCN-v2 hot path: options that are off (clipping, sizes, hashing) cost no op.
    emb = TokenizerConfig(embedding_dim=D).build(INPUTS, interaction_takes="flat").embedding
    assert isinstance(emb, FusedEmbedding)
    x = _ids()
    with _RecordOps() as record:
        emb(x)
    check = ["lt", "ge", "bitwise_or", "any", "_local_scalar_dense"]  # CPU only
    assert record.ops == [*check, "add", "embedding"]


# --- sizes --------------------------------------------------------------------------------------

VOCABS = (1, 2, 16, 1000, 10_000, 1_000_000)


@pytest.mark.parametrize(
    ("rule", "scale", "max_dim", "expected"),
    [
        ("fixed", 1.0, 64, (D,) * 6),
        ("log2", 1.0, 64, (1, 1, 4, 10, 14, 20)),  # log2(1000) = 9.97
        ("log2", 0.5, 64, (1, 1, 2, 5, 7, 10)),
        ("log2", 1.0, 12, (1, 1, 4, 10, 12, 12)),
        ("root4", 1.0, 256, (6, 8, 12, 34, 60, 190)),  # 6 * 1000^0.25 = 33.7, 6 * 2^0.25 = 7.1
        ("root4", 1.0, 64, (6, 8, 12, 34, 60, 64)),
        ("root4", 0.5, 64, (3, 4, 6, 17, 30, 64)),
    ],
)
def test_size_rules_match_hand_computed_values(
    rule: str, scale: float, max_dim: int, expected: tuple[int, ...]
) -> None:
    assert embedding_dims(VOCABS, rule, dim=D, scale=scale, max_dim=max_dim) == expected  # type: ignore[arg-type]


def test_sizes_use_the_vocabulary_after_clipping() -> None:
    config = TablesConfig(size="log2", min_count=MIN_COUNT)
    emb = config.build(INPUTS, dim=D, takes="flat")
    assert emb.dims == tuple(max(1, math.ceil(math.log2(n))) for n in LIMITS)


# --- frequency clipping -------------------------------------------------------------------------


def test_clipping_maps_exactly_the_ids_below_min_count_to_the_rare_id() -> None:
    emb = FusedConfig(min_count=MIN_COUNT).build(INPUTS, dim=D, takes="tokens")
    assert isinstance(emb, FusedEmbedding)
    for j, n in enumerate(CARDS):
        ids = torch.zeros(n, len(CARDS), dtype=torch.long)
        ids[:, j] = torch.arange(n)
        clipped = emb._prepare(ids)[:, j]
        counts = INPUTS.counts[j]
        expected = [1 if k >= 2 and counts[k] < MIN_COUNT else k for k in range(n)]
        assert clipped.tolist() == expected
    # The table only holds the kept ids: memory saved.
    assert LIMITS != CARDS
    assert emb.table.weight.shape == (sum(LIMITS), D)
    full = FusedConfig().build(INPUTS, dim=D, takes="tokens")
    assert emb.vocabulary == LIMITS and full.vocabulary == CARDS
    assert _table_rows(FusedConfig(min_count=MIN_COUNT)) == sum(LIMITS) < sum(CARDS)
    assert _table_rows(FusedConfig()) == sum(CARDS)


def _table_rows(config: EmbeddingConfig) -> int:
    tok = TokenizerConfig(embedding_dim=D, embedding=config).build(INPUTS, interaction_takes="flat")
    return tok.embedding_footprint().params // D


def test_clip_limits_by_hand() -> None:
    counts = np.array([0, 3, 50, 20, 10, 4, 4, 2, 1, 0])
    assert clip_limits((10,), (counts,), 4) == (7,)  # ids 7, 8, 9 become 1
    assert clip_limits((10,), (counts,), 1) == (10,)  # at most 1: nothing clipped
    assert clip_limits((10,), (), 0) == (10,)  # no counts needed when off
    assert clip_limits((10, 1), (counts, np.array([0])), 100) == (2, 1)


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        ((), "min_count=12 needs the training count"),
        ((np.array([0, 0, 1, 20]),), "not in order of descending training count"),
        ((np.zeros(3, dtype=np.int64),), r"counts of shape \(3,\), expected \(4,\)"),
    ],
)
def test_clipping_refuses_without_usable_counts(counts: tuple[np.ndarray, ...], match: str) -> None:
    inputs = FeatureInputs(numeric=(), cardinalities=(4,), counts=counts)
    with pytest.raises(ValueError, match=match):
        TokenizerConfig(embedding=FusedConfig(min_count=MIN_COUNT)).build(
            inputs, interaction_takes="flat"
        )


def test_wide_sees_the_clipped_ids() -> None:
    torch.manual_seed(0)
    wide = Wide(CARDS, 0, tasks=1, clip_to=LIMITS)
    assert wide.table is not None and wide.table.table.weight.shape == (sum(LIMITS), 1)
    rare = torch.ones(1, len(CARDS), dtype=torch.long)
    clipped = torch.tensor([[1, 35, 1, 35]])  # the first clipped id of features 1 and 3
    assert torch.equal(wide(None, clipped), wide(None, rare))
    kept = torch.tensor([[1, 34, 1, 34]])
    assert not torch.equal(wide(None, kept), wide(None, rare))


# --- hashing ------------------------------------------------------------------------------------


def test_torch_hash_matches_the_numpy_reference() -> None:
    g = torch.Generator().manual_seed(0)
    ids = torch.cat([torch.arange(1000), torch.randint(0, 2**32 - 1, (5000,), generator=g)])
    seeds = torch.tensor([s for (s,) in feature_seeds(3, 1, seed=7)])
    got = hash_ids(ids.view(-1, 1), seeds)  # (N, 3)
    want = hash_ids_numpy(ids.view(-1, 1).numpy(), seeds.numpy())
    assert got.dtype == torch.int64 and (got >= 0).all() and (got < 2**32).all()
    np.testing.assert_array_equal(got.numpy(), want)
    assert len(set(got[:, 0].tolist())) == len(set(ids.tolist()))  # a bijection on 32 bits


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("config", "takes"), [c for c in CASES if "hash" in str(c.id)])
def test_hashed_rows_are_identical_on_cuda(config: EmbeddingConfig, takes: TensorKind) -> None:
    emb = _build(config, takes).eval()
    x = _ids(256)
    with torch.no_grad():
        expected = emb(x)
        got = emb.to("cuda")(x.to("cuda")).cpu()
    torch.testing.assert_close(got, expected)
    ids = torch.randint(0, 2**32 - 1, (4096, 1))
    seeds = torch.tensor([s for (s,) in feature_seeds(3, 1, seed=7)])
    assert torch.equal(hash_ids(ids.cuda(), seeds.cuda()).cpu(), hash_ids(ids, seeds))


def _collision_fraction(rows: np.ndarray) -> float:
    """The fraction of ids (rows of ``rows``) whose whole row tuple another id also has."""
    _, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    return float((counts[inverse.reshape(-1)] > 1).mean())


def test_hashing_collision_rate_matches_uniform_buckets() -> None:
    n, table = 10_000, 8_001  # ids 1..n hashed into m = table - 1 buckets
    m = table - 1
    h = FeatureHash([n + 1], [table], seed=0)
    rows = h(torch.arange(n + 1).view(-1, 1))[:, 0].numpy()
    assert rows[0] == 0 and (rows[1:] >= 1).all() and (rows < table).all()  # missing: own row
    occupied = len(np.unique(rows[1:]))
    expected_occupied = m * (1 - (1 - 1 / m) ** n)  # 5708
    assert occupied == pytest.approx(expected_occupied, rel=0.015)
    expected_shared = 1 - (1 - 1 / m) ** (n - 1)  # 0.713: P(another id in my bucket)
    assert _collision_fraction(rows[1:, None]) == pytest.approx(expected_shared, abs=0.02)


def _multihash_rows(buckets: int, hashes: int = 2, n_per: int = 10_000) -> np.ndarray:
    """Row tuples ``(2 * n_per, hashes)`` of ids 1..n_per of 2 features sharing ``buckets``."""
    emb = MultiHashEmbedding([n_per + 1] * 2, dim=D, hashes=hashes, rows=2 * hashes + buckets)
    ids = torch.arange(1, n_per + 1)
    rows = emb.row_ids(torch.stack([ids, ids], dim=1))  # (n_per, 2 features, hashes)
    assert (rows >= 2 * hashes).all()  # the reserved rows hold only missing ids
    return rows.reshape(-1, hashes).numpy()


def test_multihash_collision_rate_matches_k_independent_hashes() -> None:
    # Each hash alone: 20_000 ids into 20_000 buckets, like the hashing trick.
    rows = _multihash_rows(20_000)
    n = len(rows)
    for i in range(2):
        expected_one = 1 - (1 - 1 / 20_000) ** (n - 1)  # 0.632
        assert _collision_fraction(rows[:, [i]]) == pytest.approx(expected_one, abs=0.02)
    # An id's whole vector is shared only when all k rows equal another id's: m**k row tuples.
    # 20_000 ids into 1000 buckets: every id shares each single row, ~2% share both.
    rows = _multihash_rows(1_000)
    expected_all = 1 - (1 - 1_000**-2) ** (n - 1)  # 0.0198
    assert _collision_fraction(rows) == pytest.approx(expected_all, rel=0.25)
    # The missing id of each feature has its own rows.
    emb = MultiHashEmbedding([5, 5], dim=D, hashes=2, rows=10)
    missing = emb.row_ids(torch.zeros(1, 2, dtype=torch.long))[0]
    assert missing.tolist() == [[0, 1], [2, 3]]


def test_hashing_keeps_small_features_exact_and_missing_ids_in_row_0() -> None:
    emb = HashingConfig(rows=16).build(INPUTS, dim=D, takes="tokens")
    rows = hashed_rows(CARDS, ratio=0.5, rows=16)
    assert rows == (7, 16, 3, 16)  # features 0 and 2 have a row per id: not hashed
    h = getattr(emb, "row_map", None)
    assert isinstance(h, FeatureHash)
    x = torch.tensor([[0, 0, 0, 0], [6, 39, 2, 199], [1, 1, 1, 1]])
    got = h(x)
    assert got[0].tolist() == [0, 0, 0, 0]  # the missing id keeps row 0
    assert got[1, 0] == 6 and got[1, 2] == 2 and got[2, 0] == 1  # exact features keep ids
    assert ((got[1:, [1, 3]] >= 1) & (got[1:, [1, 3]] < 16)).all()
    assert hashed_rows(CARDS, ratio=0.25) == (2, 10, 2, 50)  # at least 2 rows, at most n


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: FusedConfig(min_count=-1), r"min_count=-1"),
        (lambda: FusedConfig(size="sqrt"), r"size='sqrt'"),
        (lambda: TablesConfig(size_scale=0.0), r"size_scale=0.0"),
        (lambda: TablesConfig(max_dim=0), r"max_dim=0"),
        (lambda: HashingConfig(ratio=0.0), r"ratio=0.0"),
        (lambda: HashingConfig(rows=-3), r"rows=-3"),
        (lambda: HashingConfig(seed=-1), r"seed=-1"),
        (lambda: MultiHashConfig(hashes=0), r"hashes=0"),
        (lambda: MultiHashConfig(ratio=1.5), r"ratio=1.5"),
        (lambda: MultiHashConfig(size="log2"), r"size must be 'fixed'"),
        (
            lambda: TokenizerConfig(embedding_dim=16, embedding=MultiHashConfig(hashes=3)),
            r"embedding_dim=16 is not a multiple of hashes=3",
        ),
    ],
)
def test_configs_reject_bad_values_naming_them(make: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()  # type: ignore[operator]


def test_multihash_with_too_few_rows_names_the_reserved_rows() -> None:
    with pytest.raises(ValueError, match=r"embedding multihash: rows=8 leaves no bucket"):
        TokenizerConfig(embedding_dim=D, embedding=MultiHashConfig(rows=8)).build(
            INPUTS, interaction_takes="tokens"
        )


# --- rankers ------------------------------------------------------------------------------------

RANKER_EMBEDDINGS = [
    *(pytest.param(cls(), id=name) for name, cls in EMBEDDINGS.items()),
    pytest.param(FusedConfig(size="root4", min_count=MIN_COUNT), id="fused-root4-clipped"),
    pytest.param(TablesConfig(size="log2"), id="tables-log2"),
    pytest.param(HashingConfig(size="log2", ratio=0.25), id="hashing-log2"),
]


@pytest.mark.parametrize("embedding", RANKER_EMBEDDINGS)
@pytest.mark.parametrize("interaction", [CrossConfig(layers=1), FMConfig()], ids=["cross", "fm"])
@pytest.mark.parametrize("topology", ["stacked", "parallel"])
def test_ranker_trains_a_step_with_every_embedding(
    embedding: EmbeddingConfig, interaction: InteractionConfig, topology: str
) -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x_train = rng.normal(size=(32, 2)).astype(np.float32)
    inputs = FeatureInputs(
        numeric=FeatureInputs.from_arrays(x_train).numeric,
        cardinalities=CARDS,
        counts=INPUTS.counts,
    )
    config = RankerConfig(
        tokenizer=TokenizerConfig(embedding_dim=D, embedding=embedding),
        interaction=interaction,
        backbone=MLPConfig(dims=(8,)),
        topology=topology,  # type: ignore[arg-type]
        wide=True,
    )
    model = config.build(inputs, tasks=1)
    x_num, x_cat = torch.randn(B, 2), _ids()
    optimizers = make_optimizers(model, TrainConfig(embedding_learning_rate=0.1))
    for _ in range(2):
        logits = model(x_num, x_cat)
        assert logits.shape == (B, 1) and torch.isfinite(logits).all()
        loss = nn.functional.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in optimizers:
            opt.step()
    # The flat view is consistent with what the tokenizer says it gives.
    emb = model.tokenizer(x_num, x_cat)
    assert emb.flat().shape == (B, model.tokenizer.flat_width)
    assert model.embedding_footprint().params > 0
