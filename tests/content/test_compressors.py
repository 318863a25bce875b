"""Contract tests every registered compressor passes, plus each kind's own promise (PCA and SVD
match scikit-learn, the random projection is seeded, the autoencoder beats a random projection,
a Matryoshka prefix beats the same prefix of an unconstrained projection, and one trained on the
labels keeps a label signal that reconstruction leaves out)."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
import torch
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from harness.content import (
    COMPRESSORS,
    AutoencoderConfig,
    CompressorConfig,
    MatryoshkaCompressor,
    MatryoshkaConfig,
    PCAConfig,
    RandomProjectionConfig,
    SVDConfig,
)

Array = npt.NDArray[np.float32]
WIDTH = 64
RANK = 32
# The data-free baseline: what it maps a vector to does not depend on the training vectors.
DATA_FREE = {"random"}
# Every registered kind that compresses (``none`` serves the vectors as they are: its own tests
# are in test_content.py).
COMPRESSING = tuple(name for name in COMPRESSORS.names if name != "none")


def _low_rank(n: int, seed: int) -> Array:
    """Rank-32 vectors in 64 dimensions with a decaying spectrum, an offset and a little noise:
    the same subspace for every ``seed`` (so train and held-out share it), fresh rows each."""
    basis, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((WIDTH, RANK)))
    rng = np.random.default_rng(seed)
    scales = 3.0 * np.exp(-np.arange(RANK) / 6.0)
    z = rng.standard_normal((n, RANK)) * scales
    return (z @ basis.T + 0.05 * rng.standard_normal((n, WIDTH)) + 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def train() -> Array:
    return _low_rank(3000, seed=10)


@pytest.fixture(scope="module")
def held_out() -> Array:
    return _low_rank(1000, seed=11)


@pytest.fixture(scope="module")
def small() -> Array:
    return _low_rank(400, seed=12)[:, :24].copy()


def _decoded_mse(z_train: Array, z_test: Array, train: Array, test: Array) -> float:
    """Held-out reconstruction MSE of the best affine decoder fitted on the training codes:
    the same decoder for every compressor, so the codes alone are compared."""
    a = np.c_[z_train, np.ones(len(z_train))]
    w, *_ = np.linalg.lstsq(a, train, rcond=None)
    return float(np.mean((np.c_[z_test, np.ones(len(z_test))] @ w - test) ** 2))


def _config(name: str, size: int, seed: int = 0) -> CompressorConfig:
    cls = COMPRESSORS.get(name)
    return cls(size=size, seed=seed)


def test_registry_names() -> None:
    assert COMPRESSORS.names == ("none", "pca", "svd", "random", "autoencoder", "matryoshka")


# --- the contract every registered compressor passes ---------------------------------------


@pytest.mark.parametrize("name", COMPRESSING)
@pytest.mark.parametrize("size", [1, 5, 24])
def test_outputs_n_by_size_float32(name: str, size: int, small: Array) -> None:
    fitted = _config(name, size).fit(small)
    out = fitted.transform(small[:37].astype(np.float64))
    assert out.shape == (37, size)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    assert (fitted.width, fitted.size, fitted.report.train_rows) == (24, size, 400)
    assert fitted.report.kind == name


@pytest.mark.parametrize("name", COMPRESSING)
def test_fitted_on_train_only(name: str, train: Array, held_out: Array) -> None:
    on_train = _config(name, 8).fit(train).transform(held_out)
    on_held_out = _config(name, 8).fit(held_out).transform(held_out)
    if name in DATA_FREE:
        np.testing.assert_array_equal(on_train, on_held_out)
    else:
        assert not np.allclose(on_train, on_held_out, atol=1e-4)


@pytest.mark.parametrize("name", COMPRESSING)
def test_seeded_and_leaves_torch_state(name: str, small: Array) -> None:
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    first = _config(name, 6, seed=3).fit(small).transform(small)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads
    np.testing.assert_array_equal(first, _config(name, 6, seed=3).fit(small).transform(small))
    if name not in {"pca", "svd"}:  # their default solvers are exact: the seed does not matter
        other = _config(name, 6, seed=4).fit(small).transform(small)
        assert not np.allclose(first, other, atol=1e-3)


@pytest.mark.parametrize("name", COMPRESSING)
def test_bad_input_is_a_one_line_value_error(name: str, small: Array) -> None:
    cls = COMPRESSORS.get(name)
    bad = small.copy()
    bad[7, 3] = np.nan
    fitted = cls(size=2).fit(small)
    cases = [
        (lambda: cls(size=0), "size must be a positive integer, got 0"),
        (lambda: cls(size=25).fit(small), "size=25 exceeds the vectors' width d=24"),
        (lambda: cls(size=2).fit(small[:, 0]), r"train must be a 2-D array \(n, d\), got shape"),
        (lambda: cls(size=2).fit(bad), r"train has 1 non-finite values .*\(first in row 7\)"),
        (lambda: fitted.transform(small[:, :23]), "x has 23 columns, .* fitted on 24"),
        (lambda: fitted.transform(bad), "x has 1 non-finite values"),
        (lambda: fitted.transform(small.astype(str)), "x must hold real numbers"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message) as err:
            make()
        assert "\n" not in str(err.value)


# --- each kind's own promise ---------------------------------------------------------------


def test_pca_matches_scikit_learn(train: Array, held_out: Array) -> None:
    fitted = PCAConfig(size=10).fit(train)
    reference = PCA(n_components=10).fit(train)
    np.testing.assert_allclose(fitted.estimator.mean_, train.mean(axis=0), rtol=1e-5, atol=1e-5)
    assert fitted.report.kept_variance == pytest.approx(
        float(reference.explained_variance_ratio_.sum()), rel=1e-6
    )
    np.testing.assert_allclose(
        fitted.transform(held_out), reference.transform(held_out), rtol=1e-4, atol=1e-4
    )


def test_svd_matches_scikit_learn(train: Array, held_out: Array) -> None:
    fitted = SVDConfig(size=10, seed=5).fit(train)
    reference = TruncatedSVD(n_components=10, random_state=5).fit(train)
    assert fitted.report.kept_variance == pytest.approx(
        float(reference.explained_variance_ratio_.sum()), rel=1e-6
    )
    np.testing.assert_allclose(
        fitted.transform(held_out), reference.transform(held_out), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("size", [8, 16])
def test_autoencoder_beats_random_projection(size: int, train: Array, held_out: Array) -> None:
    errors = {}
    for cfg in (AutoencoderConfig(size=size), RandomProjectionConfig(size=size)):
        c = cfg.fit(train)
        errors[cfg.kind] = _decoded_mse(c.transform(train), c.transform(held_out), train, held_out)
    # Measured (seed 0): k=8 0.038 vs 0.115; k=16 0.005 vs 0.026.
    assert errors["autoencoder"] < 0.5 * errors["random"]


def test_autoencoder_with_hidden_layer_trains(train: Array) -> None:
    fitted = AutoencoderConfig(size=8, hidden=32, epochs=5).fit(train)
    assert fitted.transform(train[:10]).shape == (10, 8)
    # Far below the data's variance (about 0.13 per coordinate): it learned something.
    assert fitted.report.train_mse is not None
    assert fitted.report.train_mse < 0.5 * float(train.var(axis=0).mean())


@pytest.mark.parametrize("seed", [0, 1])
def test_matryoshka_prefix_beats_unconstrained_prefix(
    seed: int, train: Array, held_out: Array
) -> None:
    free = AutoencoderConfig(size=32, seed=seed).fit(train)
    nested = MatryoshkaConfig(size=32, seed=seed).fit(train)
    assert isinstance(nested, MatryoshkaCompressor)
    assert nested.sizes == (8, 16, 32)
    f_train, f_test = free.transform(train), free.transform(held_out)
    for k in (8, 16):
        free_mse = _decoded_mse(f_train[:, :k], f_test[:, :k], train, held_out)
        nested_mse = _decoded_mse(
            nested.transform(train, size=k), nested.transform(held_out, size=k), train, held_out
        )
        # Measured over seeds 0-2: k=8 0.039-0.041 vs 0.10-0.13; k=16 0.005 vs 0.013-0.025.
        assert nested_mse < 0.6 * free_mse, (k, nested_mse, free_mse)


def test_matryoshka_prefixes_are_cuts_of_one_vector(small: Array) -> None:
    fitted = MatryoshkaConfig(size=16, prefixes=(2, 4, 8, 64), weights=(1.0, 0.5, 0.5, 9.0)).fit(
        small
    )
    assert isinstance(fitted, MatryoshkaCompressor)
    assert fitted.sizes == (2, 4, 8, 16)
    assert fitted.prefix_train_mse is not None and len(fitted.prefix_train_mse) == 4
    # Each longer prefix reconstructs the training vectors at least as well (with slack).
    assert all(a >= b * 0.99 for a, b in itertools.pairwise(fitted.prefix_train_mse))
    full = fitted.transform(small)
    for k in fitted.sizes:
        np.testing.assert_array_equal(fitted.transform(small, size=k), full[:, :k])
    with pytest.raises(ValueError, match=r"size=5 is not a trained prefix size; valid: \(2, 4"):
        fitted.transform(small, size=5)


def test_matryoshka_separate_heads(small: Array) -> None:
    fitted = MatryoshkaConfig(size=8, prefixes=(2, 4), separate_heads=True).fit(small)
    assert isinstance(fitted, MatryoshkaCompressor)
    assert len(fitted.model.decoders.heads) == 3 and fitted.model.label_heads is None
    assert fitted.transform(small, size=2).shape == (400, 2)


def _planted_labels(x: Array) -> npt.NDArray[np.float32]:
    """Clicks set by the vectors' 21st latent direction (variance 0.011 of the 0.3 the vectors
    hold per coordinate): reconstruction ranks it far below the first 8 directions."""
    basis, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((WIDTH, RANK)))
    signal = (x - 1.0) @ basis[:, 20]
    return (signal > 0).astype(np.float32).reshape(-1, 1)


def _prefix_auc(fitted: MatryoshkaCompressor, k: int, train: Array, held_out: Array) -> float:
    """Held-out AUC of a logistic regression on the first ``k`` coordinates."""
    model = LogisticRegression(max_iter=1000)
    model.fit(fitted.transform(train, size=k), _planted_labels(train).ravel())
    scores = model.decision_function(fitted.transform(held_out, size=k))
    return float(roc_auc_score(_planted_labels(held_out).ravel(), scores))


def test_matryoshka_trained_on_labels_keeps_a_low_variance_signal(
    train: Array, held_out: Array
) -> None:
    labels = _planted_labels(train)
    fits = {
        objective: MatryoshkaConfig(size=8, prefixes=(2, 4, 8), objective=objective).fit(
            train, labels
        )
        for objective in ("reconstruction", "label", "both")
    }
    auc = {
        objective: [_prefix_auc(fitted, k, train, held_out) for k in (2, 4, 8)]
        for objective, fitted in fits.items()
        if isinstance(fitted, MatryoshkaCompressor)
    }
    mse = {
        o: f.prefix_train_mse or () for o, f in fits.items() if isinstance(f, MatryoshkaCompressor)
    }
    # Measured over seeds 0-2 at 2 / 4 / 8 dims: reconstruction 0.50 / 0.50 / 0.51; label
    # 0.99 at each; both 0.61-0.83 / 0.61-0.90 / 1.00 (the small prefixes' reconstruction
    # outweighs the label's log loss). Reconstruction MSE at 8 dims: 0.038 with reconstruction,
    # 0.053-0.061 with both.
    assert max(auc["reconstruction"]) < 0.55
    assert min(auc["label"]) > 0.97 and auc["both"][-1] > 0.97
    # ``both`` still reconstructs; ``label`` trains no decoder and reports none.
    assert mse["both"][-1] < 2 * mse["reconstruction"][-1] and mse["label"] == ()
    assert fits["label"].report.train_mse is None


def test_matryoshka_ignores_labels_unless_its_objective_reads_them(small: Array) -> None:
    config = MatryoshkaConfig(size=8, prefixes=(4,))
    assert not config.uses_labels and MatryoshkaConfig(objective="both").uses_labels
    noise = np.random.default_rng(0).random((400, 1))
    np.testing.assert_array_equal(
        config.fit(small).transform(small), config.fit(small, noise).transform(small)
    )


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (None, "objective='label' needs the training rows' labels"),
        (np.full((400, 1), 2.0), r"needs labels in \[0, 1\]; use objective = 'reconstruction'"),
        (np.full((400, 1), np.nan), r"needs labels in \[0, 1\]"),
        (np.zeros((399, 1)), r"labels must be \(400, tasks\), got shape \(399, 1\)"),
    ],
)
def test_matryoshka_label_objective_checks_its_labels(
    labels: npt.NDArray[np.float64] | None, message: str, small: Array
) -> None:
    with pytest.raises(ValueError, match=message):
        MatryoshkaConfig(size=8, prefixes=(4,), objective="label").fit(small, labels)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MatryoshkaConfig(prefixes=(8, 8)), "prefixes must be distinct"),
        (lambda: MatryoshkaConfig(prefixes=(8, 0)), "prefixes must be positive integers"),
        (lambda: MatryoshkaConfig(prefixes=(8, 4), weights=(1.0,)), "one entry per prefix"),
        (lambda: MatryoshkaConfig(weights=(-1.0,) * 6), "weights must be non-negative"),
        (lambda: MatryoshkaConfig(objective="mse"), "objective must be one of reconstruction, "),
        (lambda: AutoencoderConfig(epochs=0), "epochs must be at least 1"),
        (lambda: AutoencoderConfig(hidden=0), "hidden must be at least 1"),
        (lambda: AutoencoderConfig(learning_rate=0.0), "learning_rate must be positive"),
        (lambda: SVDConfig(n_iter=-1), "n_iter must be non-negative"),
        (lambda: PCAConfig(seed=-1), "seed must be a non-negative integer"),
    ],
)
def test_config_errors(make: object, message: str) -> None:
    assert callable(make)
    with pytest.raises(ValueError, match=message):
        make()
