"""Every generated world's committed files regenerate byte-identically from its seed."""
import importlib

import pytest

from unlearnlab.worlds.base import data_root


@pytest.mark.parametrize("world", ["hazard", "books", "records", "behaviour"])
def test_regeneration_is_byte_identical(tmp_path, world):
    module = importlib.import_module(f"unlearnlab.worlds.{world}")
    module.main(["--out", str(tmp_path)])
    for split in module.SPLITS:
        regenerated, committed = tmp_path / f"{split}.jsonl", data_root() / world / f"{split}.jsonl"
        assert regenerated.read_bytes() == committed.read_bytes(), f"{world}/{split}"
