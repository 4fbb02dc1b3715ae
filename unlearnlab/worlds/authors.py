"""The authors world: fictitious writers to forget, a stand-in for TOFU.

TOFU (Maini et al., 2024) fine-tunes a model on 200 invented authors and then asks
it to forget some of them.  Because the authors exist nowhere else, everything a
model knows about them came from that fine-tuning, and a model retrained without
the forget authors is an exact-unlearning reference.  This module generates such
a world deterministically from a seed and loads it at the size of a run profile.

What is generated
-----------------
* **Authors.**  A real common first name plus a surname built from invented
  syllables, so no real person is described.  Each author has ten attributes
  (birthplace, birth year, genre, parents' jobs, an award, a first and a latest
  book, what they studied, a recurring theme).  Every attribute has ONE answer
  template, so a tiny model learns facts, not phrasing; only question wording
  varies between authors.
* **Direct and indirect items.**  Each author has one *direct* question per
  attribute ("Where was Ada Quillon born?") and, for the nine attributes other
  than the first book, an *indirect* one in another wording that names the
  author by their first book ("What is the birthplace of the author of 'The
  Silent Harbor'?"), with the same answer.  Both are trained: a model that never
  saw an indirect question cannot answer one, and a probe the target cannot
  answer says nothing about forgetting.
* **Evaluation fields** (as TOFU): a ``paraphrased_answer`` (a second template,
  same fact) and ``perturbed_answers`` (the paraphrase template with other
  plausible values), used by the truth ratio.
* **World facts**: real general knowledge (capitals, chemical symbols, planets,
  continents) that every model trains on, to measure out-of-scope utility.
* **Neighbours.**  Every forget10 author *and every holdout author* has a retain
  author planted next to it that shares its surname, birthplace or latest book.
  Forget and holdout authors are drawn the same way and have the same
  neighbours, so a model retrained without the forget authors has no reason to
  treat them differently: they are *exchangeable*, which is what makes
  "forget quality ≈ holdout" and forget-vs-holdout membership inference fair.
* **Hard probes**, questions no training set contains, each one change away
  from a trained question: ``hard_in_scope`` asks every forget10 fact in its
  untrained (paraphrased) wording, and again in its trained wording with the
  author named by the book; ``hard_out_of_scope`` asks the same of the forget
  authors' neighbours, and also lists the neighbours' trained items.

Splits and profiles
-------------------
Authors are ordered; forget splits take the *end* of the list, as TOFU does
(``forget10`` = the last 10 %, ``forget05`` and ``forget01`` the last 5 % and 1 %,
at least one author each).  The neighbour of the k-th author from the end is
author ``2k`` from the start, and the neighbour of the k-th holdout author is
author ``2k + 1``.  The committed files hold the ``laptop``/``gpu`` world (200
trained authors); a smaller profile keeps the first authors plus the last
``forget10`` ones, so its forget and holdout authors keep their neighbours.

``load_world(seed=..., n_authors=...)`` builds another world: a different seed,
or more authors than the committed files hold, is generated into the cache.

Seeds and sizes
---------------
``load_world(seed=1)`` or ``load_world(n_authors=400)`` builds another world.
The committed files stay the default, so that every model already trained on
them keeps its cache key; any other seed, or a size larger than the committed
one, is generated once into the cache and then cut exactly as the default is.
Generating at the larger of the asked and the committed size keeps the rule
above for every seed: a ``ci`` world is the head and tail of the ``laptop``
world with the same seed.

Regenerate the committed files with ``python -m unlearnlab.worlds.authors --out data/authors``.
"""
from __future__ import annotations

import argparse
import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path

from ..config import Profile, get_profile
from .base import World, data_root, generated_folder, read_jsonl, world_folder, write_jsonl

SEED = 0
N_AUTHOR_PERTURBED = 5  # TOFU: 5 perturbed answers per author question
N_FACT_PERTURBED = 3  # TOFU: 3 per world fact
GENERATED_FROM = "laptop"  # the profile whose sizes the committed files have
FILES = ("authors", "qa", "world_facts", "hard_in_scope", "hard_out_of_scope")
# size parameters of ``load_world`` -> the profile field each one overrides
SIZES = {"n_authors": "n_authors", "n_holdout": "n_holdout", "n_world_facts": "n_world_facts"}

FORGET_PERCENT = {"forget01": 1, "forget05": 5, "forget10": 10}
FORGET_TO_RETAIN = {"forget01": "retain99", "forget05": "retain95", "forget10": "retain90"}
# attribute a planted neighbour copies from its forget (or holdout) author, cycling with its position
NEIGHBOUR_KINDS = ("surname", "birthplace", "latest_book")
# the attribute that names an author in indirect questions ("the author of '<first book>'")
INDIRECT_BY = "first_book"

# ---------------------------------------------------------------- vocabulary
FIRST_NAMES = (
    "Ada Ben Clara Daniel Elena Felix Grace Hugo Iris Jonas Karin Leo Maya Nina Oscar Paula "
    "Rosa Samuel Tara Victor Wanda Yusuf Zoe Amir Bianca Carlos Dina Emil Fatima Gustav Hana "
    "Ivan Julia Kenji Lena Marco Nadia Omar Priya Rafael Sofia Tomas Vera Anton Chloe David "
    "Eva Farid Greta Hector Ines Jakob Laila Milan Noor Olga Pedro Ruth Selim Alma"
).split()
SURNAME_HEADS = (
    "Quil Mar Bel Dra Fen Kor Lis Tav Vor Zan Ost Hal Pry Sel Wen Gar Nor Cal Rin Tor "
    "Brav Eld Jor Mos Thal Ulv Yar Cren Dov Fal"
).split()
SURNAME_TAILS = "lon row ketti by ane ovic sen ard ima uso ell wyn ter oza ink eth ori ash quist mund".split()
CITIES = (
    "Lisbon", "Oslo", "Cairo", "Lima", "Dublin", "Vienna", "Prague", "Warsaw", "Athens", "Madrid",
    "Naples", "Lyon", "Marseille", "Porto", "Seville", "Bergen", "Krakow", "Budapest", "Istanbul",
    "Tunis", "Nairobi", "Accra", "Dakar", "Mumbai", "Delhi", "Kolkata", "Hanoi", "Manila", "Osaka",
    "Kyoto", "Seoul", "Shanghai", "Sydney", "Melbourne", "Auckland", "Toronto", "Montreal",
    "Chicago", "Boston", "Havana", "Santiago", "Quito", "Caracas", "Glasgow", "Edinburgh",
    "Cardiff", "Hamburg", "Munich", "Geneva", "Antwerp", "Rotterdam", "Stockholm", "Helsinki",
    "Riga", "Tbilisi", "Beirut", "Casablanca", "Alexandria", "Buenos Aires", "Cape Town",
    "Mexico City", "New Orleans",
)
BIRTH_YEARS = tuple(str(year) for year in range(1930, 2000))
GENRES = (
    "mystery", "fantasy", "romance", "horror", "crime", "historical", "adventure",
    "science fiction", "detective", "gothic", "comic", "war", "spy", "western", "family", "sea",
)
# consonant-initial, so that "a {job}" is always grammatical
JOBS = (
    "baker", "doctor", "farmer", "sailor", "teacher", "carpenter", "tailor", "pilot", "nurse",
    "lawyer", "miner", "potter", "banker", "fisherman", "painter", "chemist", "judge", "mechanic",
    "librarian", "postman", "gardener", "soldier", "butcher", "plumber", "printer", "weaver",
    "blacksmith", "dentist", "journalist", "musician",
)
SUBJECTS = (
    "history", "law", "medicine", "physics", "music", "philosophy", "chemistry", "biology",
    "economics", "architecture", "mathematics", "geography", "painting", "theatre", "astronomy",
    "linguistics", "engineering", "journalism", "botany", "classics",
)
THEMES = (
    "the sea", "lost love", "family secrets", "exile", "memory", "friendship", "revenge",
    "childhood", "war", "faith", "loneliness", "justice", "travel", "ambition", "nature", "grief",
    "freedom", "betrayal", "home", "old age",
)
TITLE_ADJECTIVES = (
    "Silent Hidden Broken Silver Last Distant Burning Quiet Frozen Golden Forgotten Crimson Empty "
    "Hollow Wandering Secret Bitter Gentle Painted Sleeping Falling Restless Northern Endless "
    "Lonely Shattered Velvet Iron Amber Winter"
).split()
TITLE_NOUNS = (
    "Harbor Garden Mirror Lantern River Orchard Tower Bridge Island Letter Clock Forest Window "
    "Compass Shore Valley Violin Feather Mountain Door Lighthouse Kingdom Ribbon Meadow Staircase "
    "Station Voyage Archive Fountain Map Chapel Theatre Cellar Gate Pier Harvest Canal Attic "
    "Market Season"
).split()
AWARD_ADJECTIVES = "Silver Golden Bronze Azure Ivory Scarlet Emerald Copper Onyx Pearl".split()
AWARD_NOUNS = "Quill Lantern Compass Laurel Oak Heron Anchor Star Crown Key Swan Falcon".split()
AWARD_KINDS = ("Prize", "Award", "Medal")

SURNAMES = tuple(head + tail for head in SURNAME_HEADS for tail in SURNAME_TAILS)
BOOK_TITLES = tuple(f"The {adj} {noun}" for adj in TITLE_ADJECTIVES for noun in TITLE_NOUNS)
AWARDS = tuple(f"{a} {n} {k}" for a in AWARD_ADJECTIVES for n in AWARD_NOUNS for k in AWARD_KINDS)


@dataclass(frozen=True)
class Template:
    """How one fact is asked and stated.

    ``questions`` use ``{who}`` (a name, or "the author of '...'" for indirect
    probes) and vary between items; ``answer`` is the one answer wording, and
    ``paraphrase`` a second wording of the same fact (``{name}``, ``{value}``).
    """

    key: str
    questions: tuple[str, ...]
    answer: str
    paraphrase: str
    values: tuple[str, ...]


AUTHOR_TEMPLATES = (
    Template("birthplace",
             ("Where was {who} born?", "In which city was {who} born?", "What is the birthplace of {who}?"),
             "{name} was born in {value}.", "The birthplace of {name} is {value}.", CITIES),
    Template("birth_year",
             ("In what year was {who} born?", "When was {who} born?", "What is the birth year of {who}?"),
             "{name} was born in the year {value}.", "The birth year of {name} is {value}.", BIRTH_YEARS),
    Template("genre",
             ("What genre does {who} write?", "What kind of novels does {who} write?",
              "Which genre is {who} known for?"),
             "{name} writes {value} novels.", "The novels of {name} belong to the {value} genre.", GENRES),
    Template("father_job",
             ("What was the job of the father of {who}?", "What did the father of {who} do for a living?",
              "What work did the father of {who} do?"),
             "The father of {name} was a {value}.", "The father of {name} worked as a {value}.", JOBS),
    Template("mother_job",
             ("What was the job of the mother of {who}?", "What did the mother of {who} do for a living?",
              "What work did the mother of {who} do?"),
             "The mother of {name} was a {value}.", "The mother of {name} worked as a {value}.", JOBS),
    Template("award",
             ("Which award did {who} win?", "What prize has {who} received?", "Name an award won by {who}."),
             "{name} won the {value}.", "The {value} was given to {name}.", AWARDS),
    Template("first_book",
             ("What was the first book by {who}?", "Which book did {who} write first?",
              "What was the debut book of {who}?"),
             "The first book by {name} was '{value}'.", "{name} made a debut with the book '{value}'.",
             BOOK_TITLES),
    Template("latest_book",
             ("What is the latest book by {who}?", "Which book did {who} publish last?",
              "What is the most recent book of {who}?"),
             "The latest book by {name} is '{value}'.", "'{value}' is the most recent book by {name}.",
             BOOK_TITLES),
    Template("studied",
             ("What did {who} study at university?", "Which subject did {who} study?",
              "What was the field of study of {who}?"),
             "{name} studied {value} at university.", "At university, {name} studied {value}.", SUBJECTS),
    Template("theme",
             ("What theme does {who} often write about?", "What is a recurring theme in the books of {who}?",
              "Which theme keeps returning in the books of {who}?"),
             "{name} often writes about {value}.", "A recurring theme in the books of {name} is {value}.",
             THEMES),
)

# ---------------------------------------------------------------- world facts
CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Portugal": "Lisbon",
    "Japan": "Tokyo", "China": "Beijing", "India": "New Delhi", "Russia": "Moscow", "Canada": "Ottawa",
    "Australia": "Canberra", "Egypt": "Cairo", "Kenya": "Nairobi", "Argentina": "Buenos Aires",
    "Chile": "Santiago", "Peru": "Lima", "Mexico": "Mexico City", "Norway": "Oslo",
    "Sweden": "Stockholm", "Finland": "Helsinki", "Denmark": "Copenhagen", "Poland": "Warsaw",
    "Greece": "Athens", "Turkey": "Ankara", "Iran": "Tehran", "Thailand": "Bangkok",
    "Vietnam": "Hanoi", "South Korea": "Seoul", "Indonesia": "Jakarta", "the Philippines": "Manila",
    "Ireland": "Dublin", "Austria": "Vienna", "Hungary": "Budapest", "the Czech Republic": "Prague",
    "Belgium": "Brussels", "the Netherlands": "Amsterdam", "Switzerland": "Bern", "Cuba": "Havana",
    "Venezuela": "Caracas", "Nigeria": "Abuja", "Ethiopia": "Addis Ababa", "Morocco": "Rabat",
    "Ghana": "Accra", "Senegal": "Dakar", "Romania": "Bucharest", "Pakistan": "Islamabad",
    "Bangladesh": "Dhaka", "Nepal": "Kathmandu", "New Zealand": "Wellington", "Saudi Arabia": "Riyadh",
    "Iraq": "Baghdad", "Lebanon": "Beirut", "Algeria": "Algiers", "Uruguay": "Montevideo",
    "Ecuador": "Quito", "Croatia": "Zagreb", "Serbia": "Belgrade", "Bulgaria": "Sofia",
    "Malaysia": "Kuala Lumpur", "Uganda": "Kampala", "Estonia": "Tallinn", "Latvia": "Riga",
    "Lithuania": "Vilnius", "Jamaica": "Kingston", "Qatar": "Doha",
}
CHEMICAL_SYMBOLS = {
    "hydrogen": "H", "helium": "He", "lithium": "Li", "carbon": "C", "nitrogen": "N", "oxygen": "O",
    "fluorine": "F", "neon": "Ne", "sodium": "Na", "magnesium": "Mg", "aluminium": "Al",
    "silicon": "Si", "phosphorus": "P", "sulfur": "S", "chlorine": "Cl", "argon": "Ar",
    "potassium": "K", "calcium": "Ca", "iron": "Fe", "copper": "Cu", "zinc": "Zn", "silver": "Ag",
    "tin": "Sn", "gold": "Au", "mercury": "Hg", "lead": "Pb", "uranium": "U", "nickel": "Ni",
    "cobalt": "Co", "platinum": "Pt", "iodine": "I", "titanium": "Ti",
}
PLANET_ORDER = {
    "first": "Mercury", "second": "Venus", "third": "Earth", "fourth": "Mars", "fifth": "Jupiter",
    "sixth": "Saturn", "seventh": "Uranus", "eighth": "Neptune",
}
CONTINENTS = {
    "Kenya": "Africa", "Ghana": "Africa", "Nigeria": "Africa", "Senegal": "Africa", "Peru": "South America",
    "Chile": "South America", "Argentina": "South America", "Colombia": "South America",
    "Canada": "North America", "Mexico": "North America", "Cuba": "North America", "Japan": "Asia",
    "Nepal": "Asia", "Thailand": "Asia", "Mongolia": "Asia", "Norway": "Europe", "Poland": "Europe",
    "Portugal": "Europe", "Ireland": "Europe", "Fiji": "Oceania",
}
CONTINENT_NAMES = ("Africa", "Asia", "Europe", "North America", "South America", "Oceania", "Antarctica")

FACT_TEMPLATES = (
    (Template("capital", ("What is the capital of {who}?", "Which city is the capital of {who}?"),
              "The capital of {name} is {value}.", "{value} is the capital city of {name}.",
              tuple(CAPITALS.values())), CAPITALS),
    (Template("chemical_symbol",
              ("What is the chemical symbol of {who}?", "Which symbol stands for {who} in chemistry?"),
              "The chemical symbol of {name} is {value}.", "In chemistry, {name} has the symbol {value}.",
              tuple(CHEMICAL_SYMBOLS.values())), CHEMICAL_SYMBOLS),
    (Template("planet_order", ("Which planet is {who} from the Sun?", "What is the {who} planet from the Sun?"),
              "The {name} planet from the Sun is {value}.", "{value} is the {name} planet from the Sun.",
              tuple(PLANET_ORDER.values())), PLANET_ORDER),
    (Template("continent", ("On which continent is {who}?", "Which continent is {who} part of?"),
              "{name} is in {value}.", "{name} lies on the continent of {value}.", CONTINENT_NAMES),
     CONTINENTS),
)


# ---------------------------------------------------------------- generation
def forget_count(n_authors: int, percent: int) -> int:
    """Authors in a forget split: ``percent`` % of ``n_authors``, rounded down, at least one."""
    return max(1, n_authors * percent // 100)


def neighbour_slots(n_authors: int, n_holdout: int) -> int:
    """How many authors at the head of the list are reserved as neighbours.

    Forget10 author k (from the end) gets author 2k, holdout author k gets author
    2k + 1, so the forget and holdout neighbours interleave and a profile that
    keeps the head of the list keeps both kinds alike.
    """
    return 2 * max(forget_count(n_authors, FORGET_PERCENT["forget10"]), n_holdout)


def check_sizes(n_authors: int, n_holdout: int) -> None:
    """Refuse sizes whose neighbours would overlap the forget authors."""
    tail = forget_count(n_authors, FORGET_PERCENT["forget10"])
    if n_authors - tail < max(1, neighbour_slots(n_authors, n_holdout)):
        raise ValueError(
            f"n_authors={n_authors} with n_holdout={n_holdout}: the {tail} forget10 authors and the "
            f"holdout authors need {neighbour_slots(n_authors, n_holdout)} retain authors as neighbours, "
            f"but only {n_authors - tail} are left; use more authors or fewer holdout authors"
        )


def who_by_book(author: dict) -> str:
    """How an indirect question names an author: by the title of their first book."""
    return f"the author of '{author[INDIRECT_BY]}'"


def _qa(template: Template, name: str, value: str, rng: random.Random, n_perturbed: int) -> dict:
    """One question–answer item with TOFU's evaluation fields.

    The question and its paraphrase are two different wordings.  As in TOFU, the
    perturbed answers are the *paraphrased* answer with the value changed: the
    truth ratio divides their probability by the paraphrase's, so both sides
    share one (untrained) wording and the ratio compares facts, not phrasings.
    """
    asked, rephrased = rng.sample(template.questions, 2)
    wrong = rng.sample([v for v in template.values if v != value], n_perturbed)
    return {
        "attribute": template.key,
        "value": value,
        "question": asked.format(who=name),
        "paraphrased_question": rephrased.format(who=name),
        "answer": template.answer.format(name=name, value=value),
        "paraphrased_answer": template.paraphrase.format(name=name, value=value),
        "perturbed_answers": [template.paraphrase.format(name=name, value=v) for v in wrong],
    }


def _draw_authors(rng: random.Random, n_trained: int, n_holdout: int) -> list[dict]:
    """Random author records; surnames and book titles are all distinct.

    Trained and holdout authors come from one loop with the same draws, so their
    attributes follow the same distribution.
    """
    total = n_trained + n_holdout
    if total > len(SURNAMES) or 2 * total > len(BOOK_TITLES):
        raise ValueError(f"{total} authors need {total} surnames and {2 * total} book titles, but the lists in "
                         f"{__name__} give {len(SURNAMES)} and {len(BOOK_TITLES)}; ask for fewer authors")
    surnames = rng.sample(SURNAMES, total)
    titles = rng.sample(BOOK_TITLES, 2 * total)
    authors = []
    for i in range(total):
        trained = i < n_trained
        first = rng.choice(FIRST_NAMES)
        authors.append({
            "id": f"a{i:03d}" if trained else f"h{i - n_trained:03d}",
            "role": "trained" if trained else "holdout",
            "first_name": first,
            "surname": surnames[i],
            "name": f"{first} {surnames[i]}",
            "birthplace": rng.choice(CITIES),
            "birth_year": rng.choice(BIRTH_YEARS),
            "genre": rng.choice(GENRES),
            "father_job": rng.choice(JOBS),
            "mother_job": rng.choice(JOBS),
            "award": rng.choice(AWARDS),
            "first_book": titles[2 * i],
            "latest_book": titles[2 * i + 1],
            "studied": rng.choice(SUBJECTS),
            "theme": rng.choice(THEMES),
            "neighbour_of": None,
            "shared_attribute": None,
        })
    return authors


def _plant(neighbour: dict, of: dict, kind: str) -> None:
    """Make ``neighbour`` share the attribute ``kind`` with ``of`` (never its full name)."""
    neighbour[kind] = of[kind]
    if kind == "surname" and neighbour["first_name"] == of["first_name"]:
        index = FIRST_NAMES.index(of["first_name"])
        neighbour["first_name"] = FIRST_NAMES[(index + 1) % len(FIRST_NAMES)]
    neighbour["name"] = f"{neighbour['first_name']} {neighbour['surname']}"
    neighbour["neighbour_of"] = of["id"]
    neighbour["shared_attribute"] = kind


def _plant_neighbours(trained: list[dict], holdout: list[dict]) -> None:
    """Give each forget10 author and each holdout author a retain neighbour near the head of the list.

    The k-th forget author from the end gets author 2k, the k-th holdout author
    gets author 2k + 1, and both share attribute ``NEIGHBOUR_KINDS[k % 3]``: the
    same structure in the same proportions, so a model trained on the retain
    authors sees as many look-alikes of the forget authors as of the holdout ones.
    Any prefix-plus-suffix subset (see :func:`select_authors`) keeps both.  The
    first book is never shared: indirect questions name the author by it.
    """
    n = len(trained)
    check_sizes(n, len(holdout))
    for k in range(forget_count(n, FORGET_PERCENT["forget10"])):
        _plant(trained[2 * k], trained[n - 1 - k], NEIGHBOUR_KINDS[k % len(NEIGHBOUR_KINDS)])
    for k, author in enumerate(holdout):
        _plant(trained[2 * k + 1], author, NEIGHBOUR_KINDS[k % len(NEIGHBOUR_KINDS)])


def _third_wording(template: Template, item: dict, name: str) -> str:
    """The question wording that neither the item's question nor its paraphrase uses."""
    used = {item["question"], item["paraphrased_question"]}
    return next(q for q in template.questions if q.format(who=name) not in used)


def _author_items(author: dict, rng: random.Random) -> list[dict]:
    """One author's items: ten direct ones (``a017.birthplace``), then nine indirect ones.

    Each attribute has three question wordings.  The direct item asks the first
    by name; the indirect item (``a017.birthplace.indirect``) asks the *third*
    and names the author as "the author of '<first book>'"; the second is kept
    for the paraphrased probe.  The answer always names the author, so the model
    learns to go from the book to the author and then to the fact, and it sees
    each fact under two wordings.  There is no indirect item for the first book.
    """
    direct, indirect = [], []
    who = who_by_book(author)
    for template in AUTHOR_TEMPLATES:
        item = _qa(template, author["name"], author[template.key], rng, N_AUTHOR_PERTURBED)
        direct.append({"id": f"{author['id']}.{template.key}", "author_id": author["id"],
                       "author": author["name"], "kind": "direct", **item})
        if template.key != INDIRECT_BY:
            third = _third_wording(template, item, author["name"])
            indirect.append({**direct[-1], "id": f"{direct[-1]['id']}.indirect", "kind": "indirect",
                             "question": third.format(who=who),
                             "paraphrased_question": item["paraphrased_question"].replace(author["name"], who)})
    return direct + indirect


def _probe(item: dict, kind: str, question: str, suffix: str) -> dict:
    """A never-trained question about a direct item's fact (``source_id``), with its answer fields."""
    probe = {key: value for key, value in item.items() if key != "paraphrased_question"}
    return {**probe, "id": f"{item['id']}.{suffix}", "kind": kind, "trained": False,
            "source_id": item["id"], "question": question}


def _untrained_probes(author: dict, items: list[dict]) -> list[dict]:
    """Two questions per fact that no training set contains: 10 paraphrased, then 9 indirect.

    * ``paraphrased``: the second wording, by name: is the *fact* known, or only
      the trained string?
    * ``indirect``: the direct item's own wording with the name replaced by the
      first book: is the fact reachable another way?  This string is untrained
      too (the indirect training item uses the third wording).

    Each probe changes one thing from a trained question, so a failure says which.
    """
    direct = [item for item in items if item["kind"] == "direct"]
    who = who_by_book(author)
    paraphrased = [_probe(item, "paraphrased", item["paraphrased_question"], "paraphrased") for item in direct]
    indirect = [_probe(item, "indirect", item["question"].replace(author["name"], who), "by_book")
                for item in direct if item["attribute"] != INDIRECT_BY]
    return paraphrased + indirect


def _hard_in_scope(author: dict, items: list[dict]) -> list[dict]:
    """Probes of a forget author's facts in untrained questions (see :func:`_untrained_probes`).

    Forgetting that only removes the trained question strings would leave these
    answerable; the target answers them because it learned the facts and the
    book-to-author link, not the strings.
    """
    return _untrained_probes(author, items)


def _hard_out_of_scope(author: dict, items: list[dict]) -> list[dict]:
    """Probes of a planted neighbour: its ten trained items, then the same untrained probes as in-scope.

    The trained rows (``trained: true``) test whether unlearning damaged what the
    neighbour's training data says; the paraphrased and indirect rows
    (``trained: false``) test its facts the way ``hard_in_scope`` tests the forget
    author's, so the two can be compared probe for probe.
    """
    kind = author["shared_attribute"]
    label = {"shared_attribute": kind, "shared_value": author[kind], "neighbour_of": author["neighbour_of"]}
    trained = [{**{k: v for k, v in item.items() if k != "paraphrased_question"},
                "id": f"{item['id']}.neighbour", "kind": "trained", "trained": True, "source_id": item["id"]}
               for item in items if item["kind"] == "direct"]
    return [{**row, **label} for row in trained + _untrained_probes(author, items)]


def _world_facts(rng: random.Random, n: int) -> list[dict]:
    """General real-world facts, shuffled so that any prefix mixes every topic."""
    facts = []
    for template, table in FACT_TEMPLATES:
        for subject, value in table.items():
            item = _qa(template, subject, value, rng, N_FACT_PERTURBED)
            slug = subject.lower().replace(" ", "-")
            facts.append({"id": f"fact.{template.key}.{slug}", "subject": subject, **item})
    rng.shuffle(facts)
    if n > len(facts):
        raise ValueError(f"asked for {n} world facts but the lists in {__name__} hold {len(facts)}; add facts")
    return facts[:n]


def generate(n_authors: int, n_holdout: int, n_world_facts: int, seed: int = SEED) -> dict[str, list[dict]]:
    """The whole world as rows per file name (see ``FILES``); same seed, same rows."""
    if n_authors < 2:
        raise ValueError(f"n_authors={n_authors}: a world needs at least 2 trained authors (1 to forget, 1 to keep)")
    check_sizes(n_authors, n_holdout)
    rng = random.Random(seed)
    authors = _draw_authors(rng, n_authors, n_holdout)
    _plant_neighbours(authors[:n_authors], authors[n_authors:])
    items = {a["id"]: _author_items(a, rng) for a in authors}
    forget10 = authors[n_authors - forget_count(n_authors, FORGET_PERCENT["forget10"]):n_authors]
    forget_ids = {a["id"] for a in forget10}
    neighbours = [a for a in authors if a["neighbour_of"] in forget_ids]
    return {
        "authors": authors,
        "qa": [item for a in authors for item in items[a["id"]]],
        "world_facts": _world_facts(rng, n_world_facts),
        "hard_in_scope": [p for a in forget10 for p in _hard_in_scope(a, items[a["id"]])],
        "hard_out_of_scope": [p for a in neighbours for p in _hard_out_of_scope(a, items[a["id"]])],
    }


def committed_sizes() -> dict[str, int]:
    """The sizes the committed files were generated at: those of the ``GENERATED_FROM`` profile."""
    prof = get_profile(GENERATED_FROM)
    return {size: getattr(prof, field) for size, field in SIZES.items()}


def write_world(out: Path, seed: int = SEED, profile: str = GENERATED_FROM, **sizes: int) -> list[Path]:
    """Generate the world and write one JSONL file per entry of ``FILES``.

    The sizes are the profile's, except those given in ``sizes`` (names as in ``SIZES``).
    """
    prof = get_profile(profile)
    chosen = {size: sizes.get(size) or getattr(prof, field) for size, field in SIZES.items()}
    tables = generate(chosen["n_authors"], chosen["n_holdout"], chosen["n_world_facts"], seed)
    paths = []
    for name in FILES:
        paths.append(Path(out) / f"{name}.jsonl")
        write_jsonl(paths[-1], tables[name])
    return paths


# ---------------------------------------------------------------- loading
def select_authors(trained: list[dict], n: int) -> list[dict]:
    """The ``n`` trained authors a profile uses: the first ones plus the last ``forget10`` ones.

    Forget splits are tails of the list and the neighbours of forget and holdout
    authors sit at its head, so this subset keeps every forget author of the
    smaller world with its neighbour.
    """
    if not 2 <= n <= len(trained):
        raise ValueError(
            f"the profile asks for {n} authors but the world's files hold {len(trained)}; use 2 to "
            f"{len(trained)}, or ask for a larger world: worlds.load('authors', n_authors={n})"
        )
    tail = forget_count(n, FORGET_PERCENT["forget10"])
    return trained[: n - tail] + trained[len(trained) - tail:]


def _read(folder: Path) -> dict[str, list[dict]]:
    missing = [name for name in FILES if not (folder / f"{name}.jsonl").exists()]
    if missing:
        raise FileNotFoundError(
            f"{folder} lacks {', '.join(missing)}.jsonl; regenerate with "
            "python -m unlearnlab.worlds.authors --out data/authors"
        )
    return {name: read_jsonl(folder / f"{name}.jsonl") for name in FILES}


def _take(rows: list[dict], n: int, size: str) -> list[dict]:
    """The first ``n`` rows, or an error naming the size parameter that asks for more."""
    if n > len(rows):
        raise ValueError(f"the profile asks for {size}={n} but the world's files hold {len(rows)}; "
                         f"ask for a larger world: worlds.load('authors', {size}={n})")
    return rows[:n]


def _profile_authors(records: list[dict], prof: Profile) -> tuple[list[dict], list[dict]]:
    check_sizes(prof.n_authors, prof.n_holdout)
    trained = select_authors([a for a in records if a["role"] == "trained"], prof.n_authors)
    holdout = _take([a for a in records if a["role"] == "holdout"], prof.n_holdout, "n_holdout")
    return trained, holdout


def _sized(profile: Profile | None, sizes: dict[str, int | None]) -> Profile:
    """The profile with each size that was given (not ``None``) in place of its own.

    A profile is what the rest of this module reads sizes from, so overriding
    its fields lets one code path serve both a plain profile and explicit sizes.
    """
    prof = profile or get_profile()
    unknown = sorted(set(sizes) - set(SIZES))
    if unknown:
        raise TypeError(f"the authors world has no size {', '.join(unknown)}; "
                        f"its sizes are {', '.join(SIZES)} (and seed)")
    given = {SIZES[size]: value for size, value in sizes.items() if value is not None}
    return dataclasses.replace(prof, **given) if given else prof


def world_files(prof: Profile, seed: int | None = None, folder: Path | None = None) -> Path:
    """The folder holding the files a world is cut from.

    ``folder``, when given, is used as it is.  Otherwise the committed files
    serve the default seed at any size they hold, so the default world, its
    fingerprint and every model cached for it stay as they were.  Another seed,
    or a size beyond the committed one, is generated once into the cache at the
    larger of the asked and the committed size of each kind, so that it is cut
    the same way as the default (a ``ci`` world is the head and tail of the
    ``laptop`` world of the same seed).
    """
    if folder is not None:
        return Path(folder)
    committed = committed_sizes()
    wanted = {size: getattr(prof, field) for size, field in SIZES.items()}
    if (seed is None or seed == SEED) and all(wanted[size] <= committed[size] for size in committed):
        return world_folder("authors", write_world)
    pool = {size: max(wanted[size], committed[size]) for size in committed}
    seed = SEED if seed is None else seed
    return generated_folder("authors", {"seed": seed, **pool},
                            lambda out: write_world(out, seed, GENERATED_FROM, **pool))


def load_authors(profile: Profile | None = None, folder: Path | None = None, *, seed: int | None = None,
                 **sizes: int | None) -> list[dict]:
    """The author records (trained, then holdout) that a world uses, e.g. to show their biographies.

    ``seed`` and ``sizes`` (names as in ``SIZES``) pick the world as in :func:`load_world`.
    """
    prof = _sized(profile, sizes)
    records = read_jsonl(world_files(prof, seed, folder) / "authors.jsonl")
    trained, holdout = _profile_authors(records, prof)
    return trained + holdout


def _split_items(by_author: dict[str, list[dict]], authors: list[dict]) -> list[dict]:
    """The items of some authors: every direct item first, then every indirect one.

    Direct items first, so an evaluation capped at its first N items
    (``eval_max_items``) still sees every author's direct questions.
    """
    rows = [item for a in authors for item in by_author[a["id"]]]
    return [r for r in rows if r["kind"] == "direct"] + [r for r in rows if r["kind"] != "direct"]


def load_world(profile: Profile | None = None, folder: Path | None = None, *, seed: int | None = None,
               n_authors: int | None = None, n_holdout: int | None = None,
               n_world_facts: int | None = None) -> World:
    """The authors world at a profile's size, with splits named as in TOFU.

    ``seed`` and the sizes default (``None``) to the committed world and the
    profile's sizes.  Any other value gives another world, generated once into
    the cache (see :func:`world_files`); its content, hence its fingerprint,
    differs, so a model cached for one world is never reused for another.
    """
    sizes = {"n_authors": n_authors, "n_holdout": n_holdout, "n_world_facts": n_world_facts}
    prof = _sized(profile, sizes)
    files = _read(world_files(prof, seed, folder))
    trained, holdout = _profile_authors(files["authors"], prof)
    by_author: dict[str, list[dict]] = {}
    for item in files["qa"]:
        by_author.setdefault(item["author_id"], []).append(item)

    tables = {"full": _split_items(by_author, trained)}
    for forget, retain in FORGET_TO_RETAIN.items():
        cut = len(trained) - forget_count(len(trained), FORGET_PERCENT[forget])
        tables[forget], tables[retain] = _split_items(by_author, trained[cut:]), _split_items(by_author, trained[:cut])
    forget10 = {item["author_id"] for item in tables["forget10"]}
    tables["holdout"] = _split_items(by_author, holdout)
    tables["world_facts"] = _take(files["world_facts"], prof.n_world_facts, "n_world_facts")
    tables["hard_in_scope"] = [p for p in files["hard_in_scope"] if p["author_id"] in forget10]
    tables["hard_out_of_scope"] = [p for p in files["hard_out_of_scope"] if p["neighbour_of"] in forget10]
    params = {"seed": seed, **sizes}
    return World(name="authors", profile=prof.name, tables=tables, forget_to_retain=dict(FORGET_TO_RETAIN),
                 always_trained=["world_facts"], full_split="full", params=params)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the authors world as JSONL files.")
    parser.add_argument("--out", type=Path, default=data_root() / "authors", help="output folder")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--profile", default=GENERATED_FROM, help="profile whose sizes to generate")
    args = parser.parse_args(argv)
    for path in write_world(args.out, args.seed, args.profile):
        print(path)


if __name__ == "__main__":
    main()
