"""The books world (MUSE stand-in): files, chapter splits, VerbMem and KnowMem probes."""

import pytest

from unlearnlab import models, worlds
from unlearnlab.formats import format_prompt
from unlearnlab.eval import evaluate
from unlearnlab.eval.muse import evaluate_muse

MUSE_NUMBERS = ("verbmem_forget", "knowmem_forget", "knowmem_retain", "mia_auc_min_k", "privleak")
from unlearnlab.worlds import books


def test_profiles_keep_the_first_chapters_of_every_book():
    ci, laptop = worlds.load("books", "ci"), worlds.load("books", "laptop")
    # 5 passages and 5 study questions per chapter; ci: 2 chapters a book, laptop: 4; retain has 2 books
    assert [len(ci.items(s)) for s in ("forget", "retain", "holdout", "knowmem_retain")] == [20, 40, 20, 20]
    assert [len(laptop.items(s)) for s in ("forget", "retain", "sust_4", "verbmem_forget")] == [40, 80, 40, 20]
    assert {row["chapter"] for row in ci.items("retain")} == {17, 18, 21, 22}


def test_chapters_belong_to_exactly_one_split():
    world = worlds.load("books", "laptop")
    chapters = {split: {row["chapter"] for row in world.items(split)} for split in books.PASSAGE_SPLITS}
    seen = [c for found in chapters.values() for c in found]
    assert len(seen) == len(set(seen)) == 28


def test_requests_grow_for_scalability_and_follow_each_other_for_sustainability():
    world = worlds.load("books", "ci")
    assert world.items("sust_1") == world.items("scal_1") == world.items("forget")
    assert world.items("scal_3") == world.items("forget") + world.items("sust_2") + world.items("sust_3")
    target, reference = world.training_set(), world.training_set("forget")
    assert len(target) == 120 and len(reference) == 100
    assert not set(reference["id"]) & {row["id"] for row in world.items("forget")}


def test_verbmem_prompt_and_continuation_are_consecutive_words_of_a_passage():
    world = worlds.load("books", "laptop")
    for split in ("forget", "retain"):
        passages = {row["id"]: row["text"] for row in world.items(split)}
        for probe in world.items(f"verbmem_{split}"):
            text = passages[probe["id"].removesuffix("-verbmem")]
            assert text.startswith(probe["prompt"] + " " + probe["continuation"])
            assert len(probe["continuation"].split()) >= 8


def test_knowmem_questions_are_answered_by_their_own_chapter():
    world = worlds.load("books", "laptop")
    for split in ("forget", "retain"):
        chapter_text = {}
        for row in world.items(split):
            if row["kind"] == "passage":
                chapter_text[row["chapter"]] = chapter_text.get(row["chapter"], "") + " " + row["text"]
        for qa in world.items(f"knowmem_{split}"):
            assert qa["answer"] in chapter_text[qa["chapter"]]
    questions = [qa["question"] for s in ("knowmem_forget", "knowmem_retain") for qa in world.items(s)]
    assert len(questions) == len(set(questions))


def test_study_questions_are_the_knowmem_items_in_the_prompt_format():
    world = worlds.load("books", "ci")
    studied = {row["text"] for row in world.items("forget") if row["kind"] == "question"}
    assert studied == {format_prompt(qa["question"]) + " " + qa["answer"] for qa in world.items("knowmem_forget")}


@pytest.mark.slow
def test_tiny_target_recites_and_answers_its_books_and_tells_them_from_the_holdout():
    world = worlds.load("books")
    model, tokenizer = models.target("tiny", world="books")
    scores = evaluate(model, tokenizer, world).aggregates  # every split of the world, MUSE's among them
    assert evaluate_muse(model, tokenizer, world) == pytest.approx({key: scores[key] for key in MUSE_NUMBERS})
    assert scores["verbmem_forget"] > 0.5  # ROUGE-L F1 of the continuation; an untrained model scores ~0
    assert scores["knowmem_forget"] > 0.5 and scores["knowmem_retain"] > 0.5
    assert scores["mia_auc_min_k"] > 0.8  # trained passages are far more likely than book VII's
