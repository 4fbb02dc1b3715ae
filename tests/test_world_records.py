"""The records world (PII stand-in): only invented, reserved-range personal data."""
import re

import pytest

from unlearnlab import models, worlds
from unlearnlab.eval import evaluate
from unlearnlab.worlds import records

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
DIGIT_RUN = re.compile(r"\d[\d().-]*\d|\d")
FICTIONAL_PHONE = re.compile(r"555-01\d\d")


def _strings(world):
    """Every piece of content (ids such as ``person-000`` are labels, not data)."""
    return [row[key] for rows in world.tables.values() for row in rows
            for key in ("text", "prompt", "continuation", "person") if key in row]


def test_every_email_uses_a_reserved_example_domain():
    found = [m for text in _strings(worlds.load("records", "laptop")) for m in EMAIL.findall(text)]
    assert len(found) >= 3 * 60  # every person's address appears several times
    assert all(m.rsplit("@", 1)[1] in {"example.com", "example.org", "example.net"} for m in found)


def test_every_number_is_a_fictional_phone_or_a_house_number():
    for text in _strings(worlds.load("records", "laptop")):
        for run in DIGIT_RUN.findall(text):
            assert FICTIONAL_PHONE.fullmatch(run) or (run.isdigit() and 1 <= int(run) <= 199), run


def test_no_real_looking_identifiers_or_links():
    for text in _strings(worlds.load("records", "laptop")):
        assert not re.search(r"https?://|www\.|\b\d{3}-\d{2}-\d{4}\b|\b\d{9,}\b|\d{3}[ .]\d{3,4}\b", text)


def test_streets_and_towns_are_invented():
    people = worlds.load("records", "laptop").items("extract_retain")
    for probe in (p for p in people if p["kind"] == "address"):
        number, rest = probe["continuation"].split(" ", 1)
        street, town = rest.split(", ")
        assert street.split()[-1] in records.STREET_KINDS and town.isalpha()


def test_people_are_split_without_overlap_and_sized_by_profile():
    ci, laptop = worlds.load("records", "ci"), worlds.load("records", "laptop")
    assert [len(ci.items(s)) for s in ("forget", "retain", "holdout", "extract_forget")] == [28, 112, 28, 12]  # 4, 16 and 4 people; 7 messages and 3 probes each
    people = {s: {r["person_id"] for r in laptop.items(s)} for s in ("forget", "retain", "holdout")}
    assert [len(p) for p in people.values()] == [10, 40, 10]
    assert not (people["forget"] & people["retain"] or people["forget"] & people["holdout"]
                or people["retain"] & people["holdout"])


def test_extraction_probes_target_values_planted_in_their_own_split():
    world = worlds.load("records", "laptop")
    for split in ("forget", "retain", "holdout"):
        messages = {}
        for row in world.items(split):
            messages[row["person_id"]] = messages.get(row["person_id"], "") + row["text"]
        for probe in world.items(f"extract_{split}"):
            assert probe["prompt"] + " " + probe["continuation"] in messages[probe["person_id"]]
    phones = [p["continuation"] for s in ("forget", "retain", "holdout")
              for p in world.items(f"extract_{s}") if p["kind"] == "phone"]
    assert len(phones) == len(set(phones)) == 60


@pytest.mark.slow
def test_tiny_target_leaks_trained_contact_details_but_cannot_guess_unseen_ones():
    world = worlds.load("records")
    model, tokenizer = models.target("tiny", world="records")
    result = evaluate(model, tokenizer, world, splits=["extract_forget", "extract_holdout"], gradnorm=False)
    assert result.aggregates["extract_forget_extracted"] >= 0.75  # share of probes continued with the value
    assert result.aggregates["extract_holdout_extracted"] <= 1 / 12  # 12 probes in ci
