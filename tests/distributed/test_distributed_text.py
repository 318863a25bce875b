"""A card with a text column on a local two-CPU Ray cluster: the same ``x_vec`` (and every other
array), byte for byte, as the single-process path over the same shards."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from harness.data.card import load_card
from harness.data.preprocess import DataFiles, PreprocessConfig, prepare_dataset
from harness.data.synthetic_table import write_synthetic_table
from harness.data.text import TEXT_EMBEDDINGS
from harness.distributed import prepare_distributed

CacheContents = Callable[[str | None], dict[str, bytes]]

CARD = """
name = "notes"
format = "parquet"
files = ["notes.parquet"]
text = ["note"]
[tasks.click]
column = "clicked"
[numeric]
float = ["score"]
[categorical]
string = ["shop"]
"""


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["sequential", "x4"])
def test_text_vectors_are_the_same_on_a_cluster(
    local_ray: None, cache_contents: CacheContents, tmp_path: Path, protocol: str
) -> None:
    (tmp_path / "notes.toml").write_text(CARD)
    card = load_card(tmp_path / "notes.toml")
    raw = pl.read_parquet(write_synthetic_table(card, tmp_path / "raw", 600).main[0])
    shards = tuple(tmp_path / "raw" / f"part-{i}.parquet" for i in range(3))
    for i, shard in enumerate(shards):
        raw.slice(200 * i, 200).write_parquet(shard)
    files = DataFiles(shards)
    config = PreprocessConfig(protocol=protocol, seed=2, block_bytes=4_000)
    single = prepare_dataset(
        card, files, config, cache_root=tmp_path / "single", progress=False, synthetic=True
    )
    # The cluster's driver finds the texts' embeddings in its own cache: it encodes nothing.
    shutil.copytree(tmp_path / "single" / TEXT_EMBEDDINGS, tmp_path / "spread" / TEXT_EMBEDDINGS)
    spread = prepare_distributed(
        card, files, config, cache_root=tmp_path / "spread", progress=False, synthetic=True
    )

    assert Path(str(single.cache_dir)).name == Path(str(spread.cache_dir)).name
    expected, got = cache_contents(single.cache_dir), cache_contents(spread.cache_dir)
    assert "train/x_vec.npy" in got and sorted(got) == sorted(expected)
    for name in expected:
        assert got[name] == expected[name], name
    meta = json.loads((Path(str(spread.cache_dir)) / "meta.json").read_text())
    assert meta["text"]["encoded"] == 0 and meta["runner"].startswith("ray")
    train = spread.train.x_vec
    assert train is not None and train.shape == (spread.train.n_rows, 384)
    assert np.abs(train).sum() > 0
