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


SIZES = {"hazard": 50, "books": 5, "records": 70, "behaviour": 48}  # each a little above the committed size


@pytest.mark.parametrize("world", ["hazard", "books", "records", "behaviour"])
def test_seed_and_size_are_parameters_of_every_world(world):
    """The default is the committed files; a seed or a larger size is generated, deterministically."""
    from unlearnlab import worlds

    (size,) = worlds.size_parameters(world)
    default = worlds.load(world, "ci")
    assert worlds.load(world, "ci", seed=0).tables == default.tables
    reseeded = worlds.load(world, "ci", seed=1)
    assert reseeded.tables == worlds.load(world, "ci", seed=1).tables
    assert reseeded.fingerprint != default.fingerprint
    assert {s: len(rows) for s, rows in reseeded.tables.items()} == {s: len(rows) for s, rows in default.tables.items()}
    larger = worlds.load(world, "ci", **{size: SIZES[world]})
    assert len(larger.items("full")) > len(worlds.load(world, "laptop").items("full"))
    assert larger.params[size] == SIZES[world]


def test_a_generated_world_is_regenerated_when_its_generator_changes(monkeypatch, tmp_path):
    """The cache key holds a digest of the generator's code, so an edited generator never serves old files."""
    from unlearnlab.worlds import base

    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))
    calls = []

    def write(folder):
        calls.append(folder)
        (folder / "rows.jsonl").write_text("{}\n")

    assert len(base.generator_digest("authors")) == 16
    first = base.generated_folder("authors", {"seed": 7}, write)
    assert base.generated_folder("authors", {"seed": 7}, write) == first and len(calls) == 1
    monkeypatch.setattr(base, "generator_digest", lambda name: "edited")
    assert base.generated_folder("authors", {"seed": 7}, write) != first and len(calls) == 2
