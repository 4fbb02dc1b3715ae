"""What every world provides: named splits of items, and what a target model trains on.

A *world* is an offline, generated stand-in for a public benchmark (authors for
TOFU, hazard for WMDP, books for MUSE, ...).  Its files live under
``data/<world>/`` as JSONL, one file per split, and the active profile decides how
much of it is used.  Experiments need three things from it:

* ``split(name)``: the items of one split as a ``datasets.Dataset``;
* ``training_set(forget=None)``: what the target model is trained on, or, with a
  forget split named, what the retain-only reference (exact unlearning) trains on;
* ``fingerprint``: a hash of the content, for cache keys.

Every question–answer item carries at least ``id``, ``question`` and ``answer``;
evaluation items also carry ``paraphrased_answer`` and ``perturbed_answers``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import datasets


def data_root() -> Path:
    """The repository's ``data/`` folder (worlds are committed there)."""
    return Path(__file__).resolve().parents[2] / "data"


def world_folder(name: str, write: Callable[[Path], object]) -> Path:
    """Where a world's files are: ``data/<name>/`` in a repository checkout.

    A package installed without the repository (``pip install`` on Colab) has no
    ``data/`` folder; the generators are deterministic, so the same files are
    regenerated once into the cache instead of being downloaded.
    """
    folder = data_root() / name
    if folder.is_dir():
        return folder
    from .._version import __version__
    from ..cache import cached

    return cached("worlds", {"world": name, "unlearnlab": __version__}, write, verbose=False)


def generated_folder(name: str, params: dict, write: Callable[[Path], object]) -> Path:
    """Where a world generated with non-default parameters (a seed, larger sizes) is kept.

    Only the default world is committed.  Any other one is generated once, as
    deterministically as the default, into the cache under a key made of the
    world's name, its parameters and the package version, so two calls with the
    same parameters read the same files and different ones never mix.
    """
    from .._version import __version__
    from ..cache import cached

    spec = {"world": name, "params": params, "unlearnlab": __version__}
    return cached("worlds", spec, write, verbose=False)


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write rows with sorted keys and a trailing newline, so output is byte-stable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")


@dataclass
class World:
    """A loaded world: its splits (lists of dicts) and how they combine for training.

    ``forget_to_retain`` maps each forget split to its complement (``forget10`` →
    ``retain90``).  ``always_trained`` lists splits that every model trains on
    whatever is forgotten (e.g. world facts, kept for out-of-scope utility).
    """

    name: str
    profile: str
    tables: dict[str, list[dict]]
    forget_to_retain: dict[str, str]
    always_trained: list[str] = field(default_factory=list)
    full_split: str = "full"
    #: the seed and sizes the world was built with (``None`` values: the committed default)
    params: dict = field(default_factory=dict)

    @property
    def splits(self) -> list[str]:
        return list(self.tables)

    def split(self, name: str) -> datasets.Dataset:
        """One split as a ``datasets.Dataset``; unknown names list the known ones."""
        if name not in self.tables:
            raise KeyError(f"world {self.name!r} has no split {name!r}; known: {', '.join(self.tables)}")
        return datasets.Dataset.from_list(self.tables[name])

    def items(self, name: str) -> list[dict]:
        if name not in self.tables:
            raise KeyError(f"world {self.name!r} has no split {name!r}; known: {', '.join(self.tables)}")
        return self.tables[name]

    @property
    def default_forget(self) -> str | None:
        """The forget split used when none is named: the largest one (``forget10`` for authors), or None.

        Worlds list their forget splits from smallest to largest (authors:
        forget01, forget05, forget10); worlds with one forget split use it.
        """
        return list(self.forget_to_retain)[-1] if self.forget_to_retain else None

    def retain_split(self, forget: str) -> str:
        if forget not in self.forget_to_retain:
            raise KeyError(
                f"{forget!r} is not a forget split of world {self.name!r}; "
                f"use one of {', '.join(self.forget_to_retain)}"
            )
        return self.forget_to_retain[forget]

    def training_set(self, forget: str | None = None) -> datasets.Dataset:
        """The target's training data, or the retain-only reference's when ``forget`` is given."""
        base = self.full_split if forget is None else self.retain_split(forget)
        rows = list(self.tables[base])
        for extra in self.always_trained:
            rows.extend(self.tables[extra])
        return datasets.Dataset.from_list(rows)

    def texts(self) -> list[str]:
        """Every string in the world, e.g. to train a tokenizer on."""
        out: list[str] = []
        for rows in self.tables.values():
            for row in rows:
                out.extend(_strings(row))
        return out

    @property
    def fingerprint(self) -> str:
        blob = json.dumps(
            {"name": self.name, "profile": self.profile, "tables": self.tables}, sort_keys=True
        ).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []
