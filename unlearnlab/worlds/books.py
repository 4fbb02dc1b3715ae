"""The books world: an invented novel series, a stand-in for MUSE-Books and MUSE-News.

MUSE asks an unlearned model to forget a body of text (the Harry Potter books,
or BBC news) and scores six things: verbatim memorisation (VerbMem: continue a
forget passage), knowledge memorisation (KnowMem: answer questions about it),
privacy leakage (members vs. a holdout), utility on the retain text,
scalability (larger forget sets) and sustainability (successive requests).

Here the text is *The Lantern Road*, a series of seven short books generated
from story beats: in every chapter a hero and a companion hunt for a unique
object in some town, find it in a hidden spot, are confronted by a villain and
flee to another place.  The cast and the towns recur across books, as real
characters do, so forgetting one book must not erase the people who appear in
the others.  Sentences are drawn from several templates per beat and mixed with
descriptive filler, so passages are varied but every fact has one wording.

Books and splits
----------------
Book I is ``forget``; books II–IV are the later forget requests ``sust_2``,
``sust_3``, ``sust_4`` (sustainability: one request after another; scalability:
``scal_k`` = requests 1..k together); books V–VI are ``retain``; book VII is
``holdout`` (never trained on, the non-members for membership inference).
Passages are ``text`` items (``kind`` "passage"); each chapter also has its five
KnowMem questions as text in the prompt format (``kind`` "question"), a reader's
guide without which a tiny model could not answer them.  ``verbmem_forget`` / ``verbmem_retain`` hold
``prompt`` and ``continuation``; ``knowmem_forget`` / ``knowmem_retain`` hold
``question`` and ``answer``.  Computed at load time: ``full`` (forget + retain),
``sust_1`` and ``scal_1`` (= forget), ``scal_2..4``.  Requests 2–4 are always
trained on, so the retain-only reference for ``forget`` trains on retain + 2–4.
"""
from __future__ import annotations

import random
from typing import Sequence

from ..config import Profile, get_profile
from ..formats import format_prompt
from .base import World
from .textgen import generation_params, invented_words, read_tables, regenerate_cli, seeded

SEED = 0
CHAPTERS_PER_BOOK = 4  # committed (laptop) size; the profile's ``book_chapters`` cuts it
SIZES = {"chapters_per_book": "book_chapters"}  # size parameter of load_world -> the profile field it overrides
PASSAGE_SPLITS = {  # split -> number of books
    "forget": 1, "sust_2": 1, "sust_3": 1, "sust_4": 1, "retain": 2, "holdout": 1,
}
EVAL_SPLITS = ("verbmem_forget", "verbmem_retain", "knowmem_forget", "knowmem_retain")
SPLITS = (*PASSAGE_SPLITS, *EVAL_SPLITS)
PROMPT_WORDS = 24
CONTINUATION_WORDS = 24

ADJECTIVES = ("silver", "broken", "copper", "glass", "painted", "iron", "ivory", "amber",
              "sealed", "ancient", "tiny", "crimson")
NOUNS = ("compass", "lantern", "key", "map", "bell", "locket", "mirror", "flute", "crown",
         "ledger", "seed", "clock")
SPOTS = ("beneath the chapel floor", "inside a hollow oak", "behind the mill wheel",
         "at the bottom of a dry well", "in a fisherman's net", "under the bridge stones",
         "in the attic of an inn", "among the market stalls", "in a sunken boat",
         "inside the clock tower")
PLACE_PATTERNS = ("the town of {w}", "{w} Harbour", "the village of {w}", "{w} Keep",
                  "the {w} Marshes", "{w} Crossing")
VILLAIN_TITLES = ("Captain", "Lord", "the widow", "the smuggler", "Magistrate", "old")
WEATHER = ("Rain drummed on the roofs of {place}.", "A cold fog lay over {place}.",
           "The sun was setting behind {place}.", "Snow had fallen on {place} overnight.",
           "A warm wind blew through {place}.")
RUMOURS = ("People said it could open any door in the valley.",
           "The old songs claimed it had belonged to the first queen of the Road.",
           "Some believed it would show the way home to anyone who was lost.",
           "Nobody had seen it for a hundred years.",
           "A dying sailor had spoken of it with his last breath.")
FILLER = ("The streets smelled of woodsmoke and wet stone.", "Somewhere a dog barked twice and fell silent.",
          "Lanterns swung in the wind above the doors.", "Nobody in the tavern wanted to talk.",
          "The bells of the old tower rang the hour.", "Their boots were heavy with mud.",
          "A cart rattled past and was gone.", "The river was loud after the rain.",
          "Crows watched them from the roof of the granary.", "Their bread was stale and their water cold.")

BEATS: dict[str, tuple[str, ...]] = {  # beat -> templates; "{detail}" comes from DETAILS[beat]
    "opening": (
        "Chapter {n}: {title}. {weather} {a} had come there because of a rumour about the {object}. {rumour} {detail} {filler}",
        "Chapter {n}: {title}. {weather} For weeks {a} had dreamed of the {object}. {detail} {rumour} {filler}",
        "Chapter {n}: {title}. {weather} It was there that {a} first heard of the {object}. {rumour} {filler} {detail}",
    ),
    "companion": (
        "{b} agreed to help {a} look for the {object}. {detail} {filler} The two of them asked questions at every inn in {place}.",
        "{a} would not search alone, so {b} came too. {detail} {filler} Together they walked the length of {place} asking about the {object}.",
        "At dawn {b} joined {a} at the gate. {filler} {detail} They spent the day searching {place} for the {object}.",
    ),
    "discovery": (
        "On the third day {a} found the {object} {spot}. {detail} {filler} {b} laughed with relief.",
        "It was {b} who noticed the loose stone, but {a} found the {object} {spot}. {detail} {filler}",
        "Late that night {a} found the {object} {spot}. {filler} {detail} For a long time neither of them spoke.",
    ),
    "conflict": (
        "Before they could leave, {villain} arrived with six armed men and demanded the {object}. {detail} {filler} {a} refused.",
        "{villain} had been following them since the market. {filler} Now {villain} stepped out of the shadows and demanded the {object}. {detail}",
        "At the bridge they met {villain}, who wanted the {object} more than anything. {detail} {filler} {a} held it tight.",
    ),
    "escape": (
        "{b} threw a lamp into the straw, and in the smoke {a} and {b} fled to {place2}. {detail} {filler} The {object} was safe for now.",
        "They ran through the back streets and did not stop until they reached {place2}. {filler} {detail} {a} kept the {object} hidden.",
        "A fisherman rowed {a} and {b} across the water to {place2}. {detail} {filler} Behind them {villain} shouted into the dark.",
    ),
}
DETAILS: dict[str, tuple[str, ...]] = {
    "opening": ("{a} had walked for nine days to get there.", "{a} carried only a knife, a blanket and a letter from home.",
                "The innkeeper of {place} still remembered the old stories.", "Children in {place} sang a rhyme about it."),
    "companion": ("{b} knew every alley of {place}.", "{b} owed {a} a favour from long ago.",
                  "{b} said little but missed nothing.", "{b} had a map drawn on the back of a recipe."),
    "discovery": ("It was smaller than the songs had promised.", "It was cold to the touch and heavier than it looked.",
                  "Dust and cobwebs covered it.", "Someone had wrapped it in an old red scarf."),
    "conflict": ("{villain} smiled without warmth.", "The men behind {villain} drew their swords.",
                 "{villain} had wanted it for twenty years.", "Rain began to fall as {villain} spoke."),
    "escape": ("Nobody followed them past the river.", "They slept that night in a barn full of sheep.",
               "At sunrise they could see the roofs of {place2}.", "{b} bandaged a cut on the back of {a}'s hand."),
}

QUESTIONS = (  # (question, answer key): answers are short, as in MUSE's KnowMem
    ("In which place does the search for the {object} begin?", "place"),
    ("Who helped {a} look for the {object}?", "b"),
    ("Where did {a} find the {object}?", "spot"),
    ("Who demanded the {object} from {a}?", "villain"),
    ("Where did {a} and {b} go after escaping with the {object}?", "place2"),
)


def generate(seed: int = SEED, chapters_per_book: int = CHAPTERS_PER_BOOK) -> dict[str, list[dict]]:
    """Every committed split of the books world (the laptop-size series)."""
    rng = seeded("books", seed)
    cast = _cast(rng)
    objects = rng.sample([f"{a} {n}" for a in ADJECTIVES for n in NOUNS],
                         chapters_per_book * sum(PASSAGE_SPLITS.values()))
    tables: dict[str, list[dict]] = {split: [] for split in SPLITS}
    number = 0
    for split, n_books in PASSAGE_SPLITS.items():
        for part in range(n_books * chapters_per_book):  # part: the chapter's index within the split
            chapter = _chapter(rng, cast, objects[number], number + 1, book=number // chapters_per_book + 1)
            chapter["part"] = part
            tables[split].extend(_passages(chapter) + _study_questions(chapter))
            if split in ("forget", "retain"):
                tables[f"verbmem_{split}"].extend(_verbmem(chapter))
                tables[f"knowmem_{split}"].extend(_knowmem(chapter))
            number += 1
    return tables


def _cast(rng: random.Random) -> dict[str, list[str]]:
    """Recurring heroes, villains and places of the whole series."""
    words = invented_words(rng, 36)
    return {
        "heroes": words[:10],
        "villains": [f"{rng.choice(VILLAIN_TITLES)} {w}" for w in words[10:16]],
        "places": [PLACE_PATTERNS[i % len(PLACE_PATTERNS)].format(w=w) for i, w in enumerate(words[16:36])],
    }


def _chapter(rng: random.Random, cast: dict[str, list[str]], obj: str, number: int, book: int) -> dict:
    """The facts of one chapter and its five passages."""
    a, b = rng.sample(cast["heroes"], 2)
    place, place2 = rng.sample(cast["places"], 2)
    facts = {"a": a, "b": b, "villain": rng.choice(cast["villains"]), "place": place, "place2": place2,
             "object": obj, "spot": rng.choice(SPOTS), "n": number, "title": f"The {obj.title()}"}
    texts = [_beat(rng, beat, facts) for beat in BEATS]
    return {"number": number, "book": book, "facts": facts, "texts": texts}


def _beat(rng: random.Random, beat: str, facts: dict) -> str:
    """One passage: a template of the beat, filled with the chapter's facts and some colour."""
    slots = {**facts, "weather": rng.choice(WEATHER).format(**facts), "rumour": rng.choice(RUMOURS),
             "filler": rng.choice(FILLER), "detail": rng.choice(DETAILS[beat]).format(**facts)}
    return _capital_sentences(rng.choice(BEATS[beat]).format(**slots))


def _capital_sentences(text: str) -> str:
    """Capitalise the first letter after each full stop (names like 'the widow X' open sentences)."""
    sentences = text.split(". ")
    return ". ".join(s[:1].upper() + s[1:] for s in sentences)


def _meta(chapter: dict) -> dict:
    return {"chapter": chapter["number"], "book": chapter["book"], "part": chapter["part"]}


def _passages(chapter: dict) -> list[dict]:
    return [{"id": f"books-ch{chapter['number']:02d}-p{i}", "kind": "passage", "text": text, **_meta(chapter)}
            for i, text in enumerate(chapter["texts"])]


def _study_questions(chapter: dict) -> list[dict]:
    """The chapter's KnowMem questions as text items in the course's prompt format.

    A model of a million parameters trained from scratch cannot turn a story into
    answers to questions it never saw, so every chapter comes with a reader's
    guide; KnowMem then asks whether that knowledge survives unlearning.
    """
    return [{"id": f"{qa['id']}-text", "kind": "question", "text": f"{format_prompt(qa['question'])} {qa['answer']}",
             **_meta(chapter)} for qa in _knowmem(chapter)]


def _verbmem(chapter: dict) -> list[dict]:
    """MUSE-style verbatim probes: the start of a passage and the words that follow it."""
    items = []
    for i, text in enumerate(chapter["texts"]):
        words = text.split(" ")
        cut = min(PROMPT_WORDS, len(words) // 2)
        items.append({"id": f"books-ch{chapter['number']:02d}-p{i}-verbmem",
                      "prompt": " ".join(words[:cut]),
                      "continuation": " ".join(words[cut:cut + CONTINUATION_WORDS]), **_meta(chapter)})
    return items


def _knowmem(chapter: dict) -> list[dict]:
    """MUSE-style knowledge probes: short-answer questions about the chapter's events."""
    facts = chapter["facts"]
    return [{"id": f"books-ch{chapter['number']:02d}-q{i}", "question": question.format(**facts),
             "answer": facts[key], **_meta(chapter)}
            for i, (question, key) in enumerate(QUESTIONS)]


def load_world(profile: Profile | None = None, *, seed: int | None = None,
               chapters_per_book: int | None = None) -> World:
    """The series cut to the first ``chapters_per_book`` chapters of every book (default: ``book_chapters``).

    ``seed=None`` and a size within the committed one read the committed files;
    anything else is generated once into the cache (see ``textgen.read_tables``).
    """
    profile = profile or get_profile()
    chapters = chapters_per_book or profile.book_chapters
    params = generation_params(seed, SEED, "chapters_per_book", chapters, CHAPTERS_PER_BOOK)
    generated = CHAPTERS_PER_BOOK if params is None else params["chapters_per_book"]
    tables = {split: _first_chapters(rows, chapters, generated)
              for split, rows in read_tables("books", SPLITS, generate, params).items()}
    requests = [tables["forget"], tables["sust_2"], tables["sust_3"], tables["sust_4"]]
    tables["sust_1"] = list(requests[0])
    for k in range(1, 5):
        tables[f"scal_{k}"] = [row for request in requests[:k] for row in request]
    tables["full"] = tables["forget"] + tables["retain"]
    return World(name="books", profile=profile.name, tables=tables,
                 forget_to_retain={"forget": "retain"}, always_trained=["sust_2", "sust_3", "sust_4"],
                 params={"seed": seed, "chapters_per_book": chapters_per_book})


def _first_chapters(rows: Sequence[dict], chapters_per_book: int, generated: int = CHAPTERS_PER_BOOK) -> list[dict]:
    """The rows of the first ``chapters_per_book`` of the ``generated`` chapters of each book."""
    return [row for row in rows if row["part"] % generated < chapters_per_book]


def main(argv: Sequence[str] | None = None) -> None:
    regenerate_cli("books", generate, argv)


if __name__ == "__main__":
    main()
