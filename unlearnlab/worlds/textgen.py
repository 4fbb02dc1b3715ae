"""Shared tools of the generated worlds: invented names, seeded choices, files on disk.

Every generated world must come out byte-identical on every machine, so all
randomness flows from one ``random.Random`` seeded with a string (Python seeds
strings through SHA-512, independently of hash randomisation), and nothing
iterates over a ``set``.  Names are built from syllables so that they look like
names without belonging to real people, places or products.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

from .base import data_root, generated_folder, read_jsonl, world_folder, write_jsonl

class Syllables(NamedTuple):
    """The sounds names are built from: (onset + vowel) repeated, then one coda."""

    onsets: tuple[str, ...]
    vowels: tuple[str, ...]
    codas: tuple[str, ...]


SYLLABLES = Syllables(
    onsets=("b", "br", "d", "dr", "f", "g", "gr", "h", "k", "l", "m", "n", "p", "r", "s", "st",
            "t", "th", "v", "w", "z"),
    vowels=("a", "e", "i", "o", "u", "a", "e", "o", "ae", "ou"),
    codas=("", "l", "n", "r", "s", "th", "m", "rn", "ll"),
)


def seeded(world: str, seed: int) -> random.Random:
    """A random generator that depends only on the world's name and the seed."""
    return random.Random(f"unlearnlab:{world}:{seed}")


def invented_words(rng: random.Random, n: int, syllables: tuple[int, int] = (2, 3),
                   exclude: Sequence[str] = (), sounds: Syllables = SYLLABLES) -> list[str]:
    """``n`` distinct capitalised pseudo-words, none of them in ``exclude``."""
    taken = {word.lower() for word in exclude}
    words: list[str] = []
    while len(words) < n:
        parts = [rng.choice(sounds.onsets) + rng.choice(sounds.vowels) for _ in range(rng.randint(*syllables))]
        word = "".join(parts) + rng.choice(sounds.codas)
        if 4 <= len(word) <= 9 and word not in taken:
            taken.add(word)
            words.append(word.capitalize())
    return words


def distractors(rng: random.Random, pool: Sequence[str], correct: str, k: int = 3) -> list[str]:
    """``k`` distinct values of ``pool`` other than ``correct`` (plausible wrong answers)."""
    others = [value for value in pool if value != correct]
    if len(others) < k:
        raise ValueError(f"need {k} distractors for {correct!r} but the pool has only {len(others)}")
    return rng.sample(others, k)


def multiple_choice(rng: random.Random, correct: str, wrong: Sequence[str]) -> tuple[list[str], int]:
    """Shuffle the correct option among the wrong ones; return (choices, index of the correct one)."""
    choices = [correct, *wrong]
    rng.shuffle(choices)
    return choices, choices.index(correct)


def write_tables(tables: dict[str, list[dict]], out: Path) -> None:
    """One byte-stable JSONL file per split."""
    for split, rows in tables.items():
        write_jsonl(Path(out) / f"{split}.jsonl", rows)


def read_tables(world: str, splits: Sequence[str], generate: Callable[..., dict[str, list[dict]]],
                params: dict | None = None) -> dict[str, list[dict]]:
    """Read a world's files: the committed ones, or those generated with ``params``.

    ``params`` (``None``: the committed world) are keyword arguments of
    ``generate``, e.g. ``{"seed": 1, "n_topics": 40}``; such a world is generated
    once into the cache.  The committed files too are regenerated into the cache
    when the package has no ``data/`` folder.
    """
    if params is None:
        folder = world_folder(world, lambda out: write_tables(generate(), out))
    else:
        folder = generated_folder(world, params, lambda out: write_tables(generate(**params), out))
    missing = [split for split in splits if not (folder / f"{split}.jsonl").exists()]
    if missing:
        raise FileNotFoundError(
            f"world {world!r} is missing {', '.join(missing)} under {folder}; regenerate it with "
            f"`python -m unlearnlab.worlds.{world} --out data/{world}`."
        )
    return {split: read_jsonl(folder / f"{split}.jsonl") for split in splits}


def generation_params(seed: int | None, default_seed: int, size: str, wanted: int, committed: int) -> dict | None:
    """What to generate for a world of ``wanted`` units with ``seed``; ``None`` if the committed files do.

    A world is generated at the larger of the wanted and the committed size and
    then cut, as the committed one is, so that a small profile's world is always
    a subset of the laptop world of the same seed.
    """
    if (seed is None or seed == default_seed) and wanted <= committed:
        return None
    return {"seed": default_seed if seed is None else seed, size: max(wanted, committed)}


def regenerate_cli(world: str, generate: Callable[[], dict[str, list[dict]]],
                   argv: Sequence[str] | None = None) -> None:
    """``python -m unlearnlab.worlds.<world> --out data/<world>`` writes the committed files."""
    parser = argparse.ArgumentParser(description=f"Regenerate the {world} world's JSONL files.")
    parser.add_argument("--out", type=Path, default=data_root() / world, help="output folder")
    args = parser.parse_args(argv)
    tables = generate()
    write_tables(tables, args.out)
    sizes = ", ".join(f"{split} {len(rows)}" for split, rows in tables.items())
    print(f"wrote {world} world to {args.out}: {sizes}")
