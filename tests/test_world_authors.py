"""The authors world: deterministic, split as TOFU does, with honest hard probes."""
from __future__ import annotations

import dataclasses
import json

import pytest

from unlearnlab import worlds
from unlearnlab.config import get_profile
from unlearnlab.worlds import authors
from unlearnlab.worlds.base import data_root

FORGETS = ("forget01", "forget05", "forget10")


@pytest.fixture(scope="module")
def laptop():
    return authors.load_world(get_profile("laptop"))


@pytest.fixture(scope="module")
def ci():
    return authors.load_world(get_profile("ci"))


@pytest.fixture(scope="module")
def records():
    """Every author record of the committed files, by id."""
    return {a["id"]: a for a in authors.load_authors(get_profile("laptop"))}


def author_ids(world, split):
    """Author ids of a split in order (items come ten per author, grouped)."""
    return [item["author_id"] for item in world.items(split)][::10]


def test_same_seed_same_world_other_seed_other_world():
    first = authors.generate(12, 2, 10, seed=0)
    assert first == authors.generate(12, 2, 10, seed=0)
    other = authors.generate(12, 2, 10, seed=1)
    assert [a["name"] for a in other["authors"]] != [a["name"] for a in first["authors"]]


def test_every_author_has_ten_items_with_one_answer_template(laptop):
    items = laptop.items("full")[:10]
    assert [i["attribute"] for i in items] == [t.key for t in authors.AUTHOR_TEMPLATES]
    name = items[0]["author"]
    birthplace = items[0]["value"]
    assert items[0]["answer"] == f"{name} was born in {birthplace}."
    assert all(i["author"] == name for i in items)


@pytest.mark.parametrize("profile", ["ci", "laptop"])
def test_forget_and_retain_partition_full_and_miss_holdout(profile):
    world = authors.load_world(get_profile(profile))
    full = set(author_ids(world, "full"))
    holdout = set(author_ids(world, "holdout"))
    assert not full & holdout
    assert not {i["author"] for i in world.items("full")} & {i["author"] for i in world.items("holdout")}
    for forget, retain in authors.FORGET_TO_RETAIN.items():
        f, r = set(author_ids(world, forget)), set(author_ids(world, retain))
        assert not f & r and f | r == full
        assert not {i["author"] for i in world.items(forget)} & {i["author"] for i in world.items(retain)}
        ids = [i["id"] for i in world.items(forget) + world.items(retain)]
        assert sorted(ids) == sorted(i["id"] for i in world.items("full"))


@pytest.mark.parametrize("profile, sizes", [("ci", (1, 2, 4)), ("laptop", (2, 10, 20))])
def test_forget_splits_nest_and_are_the_last_authors(profile, sizes):
    world = authors.load_world(get_profile(profile))
    full = author_ids(world, "full")
    for forget, size in zip(FORGETS, sizes):
        assert author_ids(world, forget) == full[-size:]
    assert set(author_ids(world, "forget01")) < set(author_ids(world, "forget05")) < set(author_ids(world, "forget10"))


def test_full_names_are_unique_and_invented(records):
    names = [a["name"] for a in records.values()]
    assert len(set(names)) == len(names) == 220
    assert all(a["first_name"] in authors.FIRST_NAMES and a["surname"] in authors.SURNAMES for a in records.values())


def test_eval_items_have_a_paraphrase_and_distinct_wrong_perturbations(laptop):
    for split in ["full", "holdout", "world_facts", "hard_in_scope", "hard_out_of_scope"]:
        for item in laptop.items(split):
            perturbed = item["perturbed_answers"]
            assert item["paraphrased_answer"] != item["answer"]
            assert len(perturbed) >= 3 and len(set(perturbed)) == len(perturbed)
            assert item["answer"] not in perturbed


def test_perturbed_answers_change_only_the_value_of_the_paraphrase(laptop):
    """As in TOFU, wrong answers share the paraphrase's wording, so the truth ratio compares facts."""
    for item in laptop.items("full") + laptop.items("world_facts"):
        cut = item["paraphrased_answer"].rindex(item["value"])
        prefix = item["paraphrased_answer"][:cut]
        suffix = item["paraphrased_answer"][cut + len(item["value"]):]
        for wrong in item["perturbed_answers"]:
            assert wrong.startswith(prefix) and wrong.endswith(suffix)
            assert wrong[len(prefix): len(wrong) - len(suffix)] != item["value"]


@pytest.mark.parametrize("profile", ["ci", "laptop"])
def test_hard_in_scope_asks_forget10_facts_another_way(profile, records):
    world = authors.load_world(get_profile(profile))
    forget = {i["id"]: i for i in world.items("forget10")}
    probes = world.items("hard_in_scope")
    assert len(probes) == len(forget) // 10 * 19  # 10 paraphrased + 9 indirect (not the first book)
    for probe in probes:
        source = forget[probe["source_id"]]
        assert probe["answer"] == source["answer"] and probe["author_id"] == source["author_id"]
        assert probe["question"] != source["question"]
        if probe["kind"] == "indirect":
            book = records[probe["author_id"]]["first_book"]
            assert f"the author of '{book}'" in probe["question"]
            assert probe["author"] not in probe["question"]
        else:
            assert probe["kind"] == "paraphrased" and probe["question"] == source["paraphrased_question"]


@pytest.mark.parametrize("profile, n_forget", [("ci", 4), ("laptop", 20)])
def test_hard_out_of_scope_neighbours_share_what_they_claim(profile, n_forget, records):
    world = authors.load_world(get_profile(profile))
    forget10, retain90 = set(author_ids(world, "forget10")), set(author_ids(world, "retain90"))
    probes = world.items("hard_out_of_scope")
    full = {i["id"]: i for i in world.items("full")}
    assert {p["neighbour_of"] for p in probes} == forget10
    assert len({p["author_id"] for p in probes}) == n_forget
    for probe in probes:
        kind = probe["shared_attribute"]
        neighbour, forget = records[probe["author_id"]], records[probe["neighbour_of"]]
        assert probe["author_id"] in retain90
        assert neighbour[kind] == forget[kind] == probe["shared_value"]
        assert neighbour["name"] != forget["name"]
        assert full[probe["source_id"]]["answer"] == probe["answer"]
    assert {p["shared_attribute"] for p in probes} == {"surname", "birthplace", "latest_book"}


def test_ci_is_the_head_and_tail_of_the_laptop_world(ci, laptop):
    sizes = {split: len(rows) for split, rows in ci.tables.items()}
    assert sizes == {"full": 400, "forget01": 10, "retain99": 390, "forget05": 20, "retain95": 380,
                     "forget10": 40, "retain90": 360, "holdout": 40, "world_facts": 30,
                     "hard_in_scope": 76, "hard_out_of_scope": 40}
    laptop_authors = author_ids(laptop, "full")
    assert author_ids(ci, "full") == laptop_authors[:36] + laptop_authors[-4:]
    assert author_ids(ci, "holdout") == author_ids(laptop, "holdout")[:4]
    assert ci.items("world_facts") == laptop.items("world_facts")[:30]
    ci_authors = set(author_ids(ci, "full"))
    assert all(p["author_id"] in ci_authors for p in ci.items("hard_in_scope") + ci.items("hard_out_of_scope"))


def test_regeneration_is_byte_identical(tmp_path):
    authors.main(["--out", str(tmp_path)])
    for name in authors.FILES:
        committed = data_root() / "authors" / f"{name}.jsonl"
        assert (tmp_path / f"{name}.jsonl").read_bytes() == committed.read_bytes(), name


def test_training_set_without_forget10_excludes_forget_authors():
    world = worlds.load("authors", "ci")
    forget = set(author_ids(world, "forget10"))
    reference = world.training_set("forget10")
    assert len(reference) == 360 + 30 and len(world.training_set()) == 400 + 30
    assert not forget & set(reference["author_id"])
    assert {i["id"] for i in world.items("world_facts")} <= set(reference["id"])


def test_files_smaller_than_the_profile_say_how_to_get_a_larger_world():
    too_big = dataclasses.replace(get_profile("ci"), n_authors=500)
    with pytest.raises(ValueError, match="n_authors=500"):
        authors.load_world(too_big, folder=data_root() / "authors")
    with pytest.raises(ValueError, match="n_world_facts=101"):
        authors.load_world(get_profile("ci"), folder=data_root() / "authors", n_world_facts=101)


def test_installed_without_data_regenerates_the_same_world(tmp_path, monkeypatch):
    """A pip install (Colab) has no data/ folder: the world is regenerated, identically, into the cache."""
    from unlearnlab.worlds import base

    committed = worlds.load("authors", "ci")
    monkeypatch.setattr(base, "data_root", lambda: tmp_path / "no-data-here")
    regenerated = worlds.load("authors", "ci")
    assert regenerated.fingerprint == committed.fingerprint
    from unlearnlab.cache import cache_dir

    assert any((cache_dir() / "worlds").iterdir()), "the world was not regenerated into the cache"


# ---------------------------------------------------------------- seeds and sizes
def test_the_default_world_is_the_committed_files():
    """No seed and no size, the default seed, or sizes the files hold: the committed world, same fingerprint."""
    default = worlds.load("authors", "ci")
    assert default.params == {"seed": None, "n_authors": None, "n_holdout": None, "n_world_facts": None}
    assert authors.load_world(get_profile("ci"), folder=data_root() / "authors").tables == default.tables
    assert worlds.load("authors", "ci", seed=authors.SEED).fingerprint == default.fingerprint
    assert worlds.load("authors", "ci", n_authors=40, n_holdout=4, n_world_facts=30).fingerprint == default.fingerprint
    assert worlds.load("authors", "laptop", n_authors=200).fingerprint == worlds.load("authors", "laptop").fingerprint


def test_a_seed_gives_another_world_regenerated_identically():
    first, again = worlds.load("authors", "ci", seed=3), worlds.load("authors", "ci", seed=3)
    default = worlds.load("authors", "ci")
    assert first.tables == again.tables and first.fingerprint == again.fingerprint
    assert first.fingerprint != default.fingerprint and first.params["seed"] == 3
    assert {i["author"] for i in first.items("full")} != {i["author"] for i in default.items("full")}
    assert {s: len(rows) for s, rows in first.tables.items()} == {s: len(rows) for s, rows in default.tables.items()}
    assert [a["name"] for a in authors.load_authors(get_profile("ci"), seed=3)] == (
        list(dict.fromkeys(i["author"] for i in first.items("full") + first.items("holdout"))))


def test_a_reseeded_ci_world_is_the_head_and_tail_of_the_laptop_world_of_that_seed():
    ci, laptop = worlds.load("authors", "ci", seed=3), worlds.load("authors", "laptop", seed=3)
    laptop_authors = author_ids(laptop, "full")
    assert author_ids(ci, "full") == laptop_authors[:36] + laptop_authors[-4:]
    assert author_ids(ci, "holdout") == author_ids(laptop, "holdout")[:4]
    assert ci.items("world_facts") == laptop.items("world_facts")[:30]


def test_sizes_beyond_the_committed_files_are_generated_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))
    world = worlds.load("authors", "ci", n_authors=300, n_holdout=30)
    assert len(author_ids(world, "full")) == 300 and len(author_ids(world, "holdout")) == 30
    assert len(author_ids(world, "forget10")) == 30 and len(world.items("hard_in_scope")) == 30 * 19
    assert len(world.items("world_facts")) == 30  # the profile's size: only the sizes given change
    assert world.params == {"seed": None, "n_authors": 300, "n_holdout": 30, "n_world_facts": None}
    assert world.fingerprint != worlds.load("authors", "ci").fingerprint
    entries = [folder for folder in (tmp_path / "worlds").iterdir() if (folder / "authors.jsonl").exists()]
    assert len(entries) == 1
    # generated at the larger of the asked and the committed size of each kind, seed 0
    assert json.loads((entries[0] / "spec.json").read_text())["params"] == {
        "seed": authors.SEED, "n_authors": 300, "n_holdout": 30, "n_world_facts": 100}
    assert worlds.load("authors", "ci", n_authors=300, n_holdout=30).tables == world.tables  # read back, same


def test_sizes_within_the_committed_files_are_a_cut_of_them(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))
    smaller = worlds.load("authors", "ci", n_authors=20, n_holdout=2)
    committed = authors.load_world(dataclasses.replace(get_profile("ci"), n_authors=20, n_holdout=2),
                                   folder=data_root() / "authors")
    assert smaller.tables == committed.tables
    assert len(author_ids(smaller, "full")) == 20 and len(author_ids(smaller, "holdout")) == 2
    assert not (tmp_path / "worlds").exists() or not any((tmp_path / "worlds").iterdir())


def test_unknown_sizes_are_refused_with_the_valid_ones():
    assert worlds.size_parameters("authors") == authors.SIZES == {
        "n_authors": "n_authors", "n_holdout": "n_holdout", "n_world_facts": "n_world_facts"}
    with pytest.raises(TypeError, match="n_authors, n_holdout, n_world_facts"):
        worlds.load("authors", "ci", n_topics=3)
    with pytest.raises(TypeError, match="n_authors, n_holdout, n_world_facts"):
        authors.load_authors(get_profile("ci"), n_topics=3)
