"""A trial's view of the vector features (`apply_content`): dropped, as they are, or compressed
by a compressor fitted on the training split only, cached in the dataset folder and reused, and
reported with the retrieval view (recall@10)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from harness.content.compressors import (
    FullSizeConfig,
    MatryoshkaConfig,
    PCAConfig,
    RandomProjectionConfig,
)
from harness.content.config import ContentConfig
from harness.content.prepare import CONTENT_DIR, ContentReport, apply_content
from harness.content.retrieval import neighbours, recall_at_k
from harness.data.schema import (
    CategoricalFeature,
    EncodedDataset,
    EncodedSplit,
    FeatureSchema,
    NumericFeature,
    VectorFeature,
)

WIDTH = 32


def _split(n: int, seed: int, width: int = WIDTH) -> EncodedSplit:
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(99).standard_normal((8, width))
    x_vec = (rng.standard_normal((n, 8)) * np.linspace(3, 0.3, 8)) @ basis
    return EncodedSplit(
        x_num=rng.standard_normal((n, 1)).astype(np.float32),
        x_cat=rng.integers(0, 5, size=(n, 1)).astype(np.int32),
        y=(rng.random((n, 1)) < 0.3).astype(np.float32),
        x_vec=(x_vec + 0.01 * rng.standard_normal((n, width))).astype(np.float32),
    )


def _data(cache_dir: Path | None = None, *, vectors: int = 1) -> EncodedDataset:
    features = tuple(VectorFeature(f"text{i}", WIDTH, "text", "m") for i in range(vectors))
    schema = FeatureSchema(
        numeric=(NumericFeature("n0"),),
        categorical=(CategoricalFeature("c0", 5),),
        vectors=features,
    )

    def split(n: int, seed: int) -> EncodedSplit:
        parts = [_split(n, seed + 7 * i) for i in range(vectors)]
        x_vec = np.concatenate([p.x_vec for p in parts if p.x_vec is not None], axis=1)
        return dataclasses.replace(parts[0], x_vec=x_vec)

    return EncodedDataset(
        name="toy",
        schema=schema,
        train=split(600, 1),
        valid=split(200, 2),
        test=split(300, 3),
        protocol="random",
        cache_dir=None if cache_dir is None else str(cache_dir),
    )


def test_full_size_serves_the_vectors_unchanged() -> None:
    data = _data()
    out, report = apply_content(ContentConfig(), data)
    assert out is data
    assert report == ContentReport(
        used=True, compressor="none", width=WIDTH, size=WIDTH, recall_at_10=1.0
    )


def test_use_false_drops_every_vector_feature() -> None:
    out, report = apply_content(ContentConfig(use=False), _data(vectors=2))
    assert out.schema.vectors == ()
    assert all(out.split(s).x_vec is None for s in ("train", "valid", "test"))
    assert report is not None and (report.used, report.width, report.size) == (False, 64, 0)
    np.testing.assert_array_equal(out.train.x_num, _data().train.x_num)


def test_data_without_vectors_is_untouched_unless_a_compressor_is_asked() -> None:
    data = dataclasses.replace(_data(), schema=dataclasses.replace(_data().schema, vectors=()))
    data = dataclasses.replace(data, train=dataclasses.replace(data.train, x_vec=None))
    assert apply_content(ContentConfig(), data) == (data, None)
    with pytest.raises(ValueError, match="has no vector features"):
        apply_content(ContentConfig(compressor=PCAConfig(size=4)), data)


def test_pca_is_fitted_on_train_only_and_applied_to_every_split() -> None:
    data = _data()
    out, report = apply_content(ContentConfig(size=4, compressor=PCAConfig()), data)
    assert data.train.x_vec is not None and data.test.x_vec is not None
    expected = PCA(n_components=4, random_state=0).fit(data.train.x_vec)
    for name in ("train", "valid", "test"):
        got = out.split(name).x_vec
        original = data.split(name).x_vec
        assert got is not None and original is not None
        assert got.shape == (data.split(name).n_rows, 4)
        np.testing.assert_allclose(got, expected.transform(original), atol=1e-4)
    assert out.schema.vectors == (VectorFeature("text0", 4, "text", "m -> pca 4"),)
    assert report is not None and report.size == 4 and not report.reused
    assert report.kept_variance == pytest.approx(expected.explained_variance_ratio_.sum(), 1e-5)
    # Changing the held-out vectors changes nothing the compressor learned.
    shifted = dataclasses.replace(
        data, test=dataclasses.replace(data.test, x_vec=data.test.x_vec * 5.0 + 1.0)
    )
    again, _ = apply_content(ContentConfig(size=4, compressor=PCAConfig()), shifted)
    assert again.train.x_vec is not None and out.train.x_vec is not None
    np.testing.assert_array_equal(again.train.x_vec, out.train.x_vec)


def test_each_vector_feature_is_compressed_on_its_own() -> None:
    data = _data(vectors=2)
    out, report = apply_content(ContentConfig(size=3, compressor=PCAConfig()), data)
    assert [v.width for v in out.schema.vectors] == [3, 3]
    assert out.train.x_vec is not None and data.train.x_vec is not None
    second = PCA(n_components=3).fit(data.train.x_vec[:, WIDTH:])
    np.testing.assert_allclose(
        out.train.x_vec[:, 3:], second.transform(data.train.x_vec[:, WIDTH:]), atol=1e-4
    )
    assert report is not None and (report.width, report.size) == (2 * WIDTH, 6)


def test_compressed_splits_are_cached_and_reused(tmp_path: Path) -> None:
    data = _data(tmp_path)
    config = ContentConfig(size=6, compressor=RandomProjectionConfig())
    first, r1 = apply_content(config, data, seed=2)
    second, r2 = apply_content(config, data, seed=2)
    assert r1 is not None and r2 is not None
    assert (r1.reused, r2.reused, r2.fit_seconds) == (False, True, 0.0)
    assert r2.recall_at_10 == r1.recall_at_10
    assert len(list((tmp_path / CONTENT_DIR).iterdir())) == 1
    for name in ("train", "valid", "test"):
        np.testing.assert_array_equal(first.split(name).x_vec, second.split(name).x_vec)
    # Another trial seed draws another projection, kept in its own folder.
    third, _ = apply_content(config, data, seed=3)
    assert len(list((tmp_path / CONTENT_DIR).iterdir())) == 2
    assert not np.allclose(np.asarray(third.train.x_vec), np.asarray(first.train.x_vec))


def test_a_matryoshka_projection_is_fitted_once_and_served_at_each_prefix(
    tmp_path: Path,
) -> None:
    data = _data(tmp_path)
    m = MatryoshkaConfig(size=16, prefixes=(16, 8, 4), epochs=2)
    served = {k: apply_content(ContentConfig(size=k, compressor=m), data) for k in (4, 8, 16)}
    assert len(list((tmp_path / CONTENT_DIR).iterdir())) == 1
    full = served[16][0].train.x_vec
    assert full is not None
    for k, (out, report) in served.items():
        assert out.train.x_vec is not None and out.train.x_vec.shape == (600, k)
        np.testing.assert_array_equal(out.train.x_vec, full[:, :k])
        assert report is not None and report.size == k
    with pytest.raises(ValueError, match=r"not a prefix .* valid: 4, 8, 16"):
        ContentConfig(size=12, compressor=m)


def _with_planted_labels(data: EncodedDataset) -> EncodedDataset:
    """Each split's clicks set by the sign of the vectors' weakest latent direction (a tenth of
    the strongest one's scale): PCA's first coordinates leave it out."""
    basis = np.random.default_rng(99).standard_normal((8, WIDTH))
    weakest = np.linalg.pinv(basis)[:, 7]

    def split(name: str) -> EncodedSplit:
        part = data.split(name)
        assert part.x_vec is not None
        clicks = (np.asarray(part.x_vec) @ weakest > 0).astype(np.float32).reshape(-1, 1)
        return dataclasses.replace(part, y=clicks)

    return dataclasses.replace(data, train=split("train"), valid=split("valid"), test=split("test"))


def test_a_matryoshka_label_objective_is_fitted_on_the_training_labels() -> None:
    data = _with_planted_labels(_data())
    test_y = data.test.y.ravel()

    def first_coordinate_auc(objective: str) -> float:
        m = MatryoshkaConfig(size=4, prefixes=(1, 2, 4), objective=objective, epochs=60)
        out, _ = apply_content(ContentConfig(size=1, compressor=m), data)
        assert out.test.x_vec is not None and out.test.x_vec.shape == (300, 1)
        auc = float(roc_auc_score(test_y, out.test.x_vec[:, 0]))
        return max(auc, 1.0 - auc)  # the sign of a coordinate is arbitrary

    # Measured: test AUC of the one served coordinate 0.52 from reconstruction, 0.99 from labels.
    assert first_coordinate_auc("reconstruction") < 0.6
    assert first_coordinate_auc("label") > 0.9
    # The fit reads the training rows only: shuffled test labels change nothing.
    shuffled = dataclasses.replace(
        data,
        test=dataclasses.replace(data.test, y=np.random.default_rng(0).permutation(data.test.y)),
    )
    m = MatryoshkaConfig(size=4, prefixes=(1, 2, 4), objective="label")
    a, _ = apply_content(ContentConfig(size=4, compressor=m), data)
    b, _ = apply_content(ContentConfig(size=4, compressor=m), shuffled)
    np.testing.assert_array_equal(np.asarray(a.test.x_vec), np.asarray(b.test.x_vec))


def test_impossible_sizes_are_one_line_errors() -> None:
    schema = _data().schema
    with pytest.raises(ValueError, match="size 64 exceeds the width of vector feature 'text0'"):
        ContentConfig(size=64, compressor=PCAConfig()).check(schema)
    with pytest.raises(ValueError, match="size must be 0"):
        ContentConfig(size=-1)
    ContentConfig(size=64, compressor=FullSizeConfig()).check(schema)  # size is not read


def test_recall_is_one_for_a_rotation_and_low_for_noise() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 16))
    rotation, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    assert recall_at_k(x, x @ rotation) == pytest.approx(1.0)
    noise = recall_at_k(x, rng.standard_normal((300, 4)))
    assert noise < 0.1  # chance is 10 / 299
    assert 0.1 < recall_at_k(x, x[:, :8]) < 0.9


def test_neighbours_exclude_the_query_itself() -> None:
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    found = neighbours(x, 1)
    assert found[:, 0].tolist() == [1, 0, 1, 2]
    with pytest.raises(ValueError, match="k must lie in"):
        neighbours(x, 4)


def test_report_json_round_trip() -> None:
    report = ContentReport(True, "pca", 384, 32, 0.61, 0.42, 1.5, False)
    assert ContentReport.from_json(report.to_json()) == report
    assert ContentReport.from_json("") is None
