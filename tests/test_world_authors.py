"""The authors world: deterministic, split as TOFU does, with honest hard probes."""
from __future__ import annotations

import collections
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
    """Author ids of a split, in order of first appearance."""
    return list(dict.fromkeys(item["author_id"] for item in world.items(split)))


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
    assert all(i["author"] == name and i["kind"] == "direct" for i in items)


@pytest.mark.parametrize("split", ["full", "holdout"])
def test_every_author_has_nine_indirect_items_naming_them_by_their_first_book(laptop, records, split):
    """Indirect questions are trained (for every trained author), so the target can answer indirect probes."""
    by_author = collections.defaultdict(dict)
    for item in laptop.items(split):
        by_author[item["author_id"]].setdefault(item["kind"], []).append(item)
    assert len(by_author) == {"full": 200, "holdout": 20}[split]
    for author_id, kinds in by_author.items():
        direct = {i["attribute"]: i for i in kinds["direct"]}
        indirect = kinds["indirect"]
        assert len(direct) == 10 and len(indirect) == 9
        who = f"the author of '{records[author_id]['first_book']}'"
        for item in indirect:
            source = direct[item["attribute"]]
            assert item["id"] == source["id"] + ".indirect" and item["attribute"] != "first_book"
            assert who in item["question"] and source["author"] not in item["question"]
            wordings = {q.format(who=who) for t in authors.AUTHOR_TEMPLATES if t.key == item["attribute"]
                        for q in t.questions}
            # the third wording: neither the direct question's nor the paraphrase's
            assert item["question"] in wordings - {source["question"].replace(source["author"], who),
                                                   source["paraphrased_question"].replace(source["author"], who)}
            assert (item["answer"], item["value"]) == (source["answer"], source["value"])


def test_direct_items_come_first_so_a_capped_evaluation_keeps_every_author(laptop):
    kinds = [i["kind"] for i in laptop.items("forget10")]
    assert kinds == ["direct"] * 200 + ["indirect"] * 180


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
def test_hard_in_scope_asks_forget10_facts_in_untrained_wordings(profile, records):
    world = authors.load_world(get_profile(profile))
    forget = {i["id"]: i for i in world.items("forget10")}
    trained_questions = {i["question"] for i in world.items("full")}
    probes = world.items("hard_in_scope")
    assert len(probes) == len(forget)  # one probe per trained item: 10 paraphrased + 9 indirect per author
    assert collections.Counter(p["kind"] for p in probes) == {"paraphrased": len(forget) // 19 * 10,
                                                              "indirect": len(forget) // 19 * 9}
    for probe in probes:
        source = forget[probe["source_id"]]
        assert probe["answer"] == source["answer"] and probe["author_id"] == source["author_id"]
        assert probe["question"] not in trained_questions and probe["trained"] is False
        if probe["kind"] == "indirect":  # the trained direct question, naming the author by the book
            book = records[probe["author_id"]]["first_book"]
            assert probe["question"] == source["question"].replace(probe["author"], f"the author of '{book}'")
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


@pytest.mark.parametrize("profile", ["ci", "laptop"])
def test_hard_out_of_scope_includes_questions_never_trained_on(profile):
    """Per neighbour: its 10 trained items, then 10 paraphrased and 9 indirect questions in untrained wordings."""
    world = authors.load_world(get_profile(profile))
    trained_questions = {i["question"] for i in world.training_set()}
    probes = world.items("hard_out_of_scope")
    assert collections.Counter(p["kind"] for p in probes) == {"trained": len(probes) // 29 * 10,
                                                              "paraphrased": len(probes) // 29 * 10,
                                                              "indirect": len(probes) // 29 * 9}
    for probe in probes:
        assert probe["trained"] == (probe["kind"] == "trained")
        assert (probe["question"] in trained_questions) == probe["trained"]


def test_holdout_authors_have_neighbours_like_forget_authors(laptop, records):
    """Exchangeability: the retain data hold as many look-alikes of each forget author as of each holdout one."""
    retain = set(author_ids(laptop, "retain90"))
    for profile in ("ci", "laptop"):
        world = authors.load_world(get_profile(profile))
        retained = set(author_ids(world, "retain90"))
        shares = {group: collections.Counter(records[n]["shared_attribute"] for n in retained
                                             if records[n]["neighbour_of"] in set(author_ids(world, group)))
                  for group in ("forget10", "holdout")}
        assert shares["forget10"] == shares["holdout"], profile
        assert sum(shares["holdout"].values()) == len(author_ids(world, "holdout"))
    for author_id in author_ids(laptop, "holdout"):
        neighbours = [r for r in records.values() if r["neighbour_of"] == author_id]
        assert len(neighbours) == 1 and neighbours[0]["id"] in retain
        kind = neighbours[0]["shared_attribute"]
        assert neighbours[0][kind] == records[author_id][kind]


def test_forget_and_holdout_authors_are_drawn_alike():
    """Over 20 seeds, forget10 and holdout authors have matching attribute distributions.

    The bound 0.3 on the total-variation distance sits above what two samples of
    400 from one distribution give here (0.07-0.26, the same as forget vs. retain
    authors) and far below what a different draw (e.g. a fixed genre) would give.
    """
    forget, holdout = [], []
    for seed in range(20):
        drawn = authors.generate(200, 20, 10, seed=seed)["authors"]
        forget += [a for a in drawn if a["role"] == "trained"][-20:]
        holdout += [a for a in drawn if a["role"] == "holdout"]
    for attribute in ("birthplace", "birth_year", "genre", "father_job", "mother_job", "studied", "theme",
                      "first_name"):
        f, h = collections.Counter(a[attribute] for a in forget), collections.Counter(a[attribute] for a in holdout)
        assert sum(abs(f[v] - h[v]) for v in f | h) / 2 / len(forget) < 0.3, attribute
    assert all(a["neighbour_of"] is None for a in forget + holdout)  # neither copies a neighbour's attribute


def test_ci_is_the_head_and_tail_of_the_laptop_world(ci, laptop):
    sizes = {split: len(rows) for split, rows in ci.tables.items()}
    assert sizes == {"full": 760, "forget01": 19, "retain99": 741, "forget05": 38, "retain95": 722,
                     "forget10": 76, "retain90": 684, "holdout": 76, "world_facts": 30,
                     "hard_in_scope": 76, "hard_out_of_scope": 116}
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
    assert len(reference) == 684 + 30 and len(world.training_set()) == 760 + 30
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


def test_crowded_worlds_are_refused_and_generation_is_deterministic():
    assert authors.generate(40, 4, 30, seed=1) == authors.generate(40, 4, 30, seed=1)
    with pytest.raises(ValueError, match="neighbours"):
        authors.generate(10, 8, 10)


# ---------------------------------------------------------------- trained models (slow)
# Measured on the ci world (tiny models, retrained with training seeds 0 and 1; 76 forget and 76 holdout
# items, 4 authors each).  Fact recall: forget 0.026 (2/76) vs holdout 0.053 (4/76) for both seeds, both at the
# floor of a model that never saw these authors.  The binomial standard error of that difference at p = 0.04 and
# n = 76 is about 0.032, so 0.1 is about three standard errors.
FACT_RECALL_MARGIN = 0.10
# ROUGE-L recall: forget 0.630 / 0.603 vs holdout 0.568 / 0.544 (seeds 0 / 1): a gap of about 0.06 that both
# seeds share, so it comes from the 4 + 4 authors, not from training noise (one holdout author's direct answers
# score 0.31, the others 0.67-0.83).  With 4 authors a side the author-level standard error of the gap is about
# 0.1, so this margin only guards against gross asymmetry; a laptop-size check (20 + 20 authors) is sharper.
ROUGE_MARGIN = 0.12


def fact_recall(world, result, split: str, kind: str | None = None) -> float:
    """Share of a split's items whose ``value`` appears in the greedy answer (case-insensitive)."""
    rows, items = world.items(result.split(split).source), result.split(split).items
    hits = [row["value"].lower() in (item.generation or "").lower()
            for row, item in zip(rows, items) if kind is None or row["kind"] == kind]
    return sum(hits) / len(hits)


@pytest.mark.slow
def test_target_answers_indirect_probes_and_retraining_treats_forget_and_holdout_alike():
    """What the world is for: indirect probes are answerable, and forget and holdout are exchangeable.

    Measured (ci, tiny): the target answers 36/36 indirect probes (fact recall 1.0) and 38/40 paraphrased
    ones; for the retrained model see the margins above.
    """
    from unlearnlab import models
    from unlearnlab.eval import evaluate

    world = worlds.load("authors", "ci")
    splits = ["forget", "holdout", "hard_in_scope"]
    target = evaluate(*models.target("tiny", world), world, forget="forget10", splits=splits, gradnorm=False)
    assert fact_recall(world, target, "hard_in_scope", "indirect") >= 0.8
    assert fact_recall(world, target, "forget") == 1.0

    retrained = evaluate(*models.retrained("tiny", world, forget="forget10"), world, forget="forget10",
                         splits=splits, gradnorm=False)
    forget, holdout = (fact_recall(world, retrained, s) for s in ("forget", "holdout"))
    assert abs(forget - holdout) <= FACT_RECALL_MARGIN
    rouge = {s: retrained.aggregates[f"{s}_rougeL_recall"] for s in ("forget", "holdout")}
    assert abs(rouge["forget"] - rouge["holdout"]) <= ROUGE_MARGIN
