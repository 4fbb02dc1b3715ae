"""The grid of a leaderboard as data: worlds × methods × hyperparameter candidates × seeds, and one budget.

Two grids are defined.  ``ci`` is what chapter 14 runs in a few minutes on a
2-core CPU: three methods on the authors world.  ``full`` is every registered
unlearning method on the three worlds; ``python -m unlearnlab.leaderboard run
--grid full`` runs it (hours on a laptop CPU), resuming where it stopped.

The budget is the same for every method: ``epochs`` passes over the test
request's forget set, as a fixed number of optimizer steps of the profile's
unlearning batch size (plus as many retain items when the method uses them);
on the ci authors world that is 57 steps of 4 items.  Stating it in epochs
keeps it meaningful in every profile (the laptop world's forget10 is 5x larger).  A method that also runs the frozen original model (a KL retain term,
NPO's reference log-probabilities) spends extra forward passes; each run's
record keeps its logged FLOPs, so the difference is reported, not hidden.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

#: methods that are not unlearning methods (``descent`` is plain fine-tuning: the relearning attack)
NOT_UNLEARNING = ("descent",)
#: the worlds a leaderboard knows how to score (see :mod:`unlearnlab.leaderboard.tasks`)
WORLDS = ("authors", "hazard", "books")


@dataclass(frozen=True)
class Grid:
    """Everything that decides which runs a leaderboard makes.

    candidates
        per method, the hyperparameter settings the validation request chooses
        from (``{}`` = the method's defaults for the model's tier); methods not
        named use ``default_candidates``.
    seeds
        seeds of the test runs (``ul.unlearn(..., seed=k)`` changes the data order);
        validation runs use the first seed only.
    epochs, batch_size
        the compute budget, the same for every method: ``ceil(epochs · |forget| / batch_size)``
        optimizer steps (the validation request gets the same number); ``batch_size`` None
        takes the profile's ``unlearn_batch_size``.
    relearn_epochs
        passes of the relearning attack over its fine-tuning items (batches of 4): 7 passes
        over 11 items is chapter 12's 20 steps.
    """

    name: str
    worlds: tuple[str, ...]
    methods: tuple[str, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    default_candidates: tuple[dict, ...] = ({}, {"learning_rate": 1e-3})
    candidates: dict[str, tuple[dict, ...]] = field(default_factory=dict)
    epochs: float = 3.0
    batch_size: int | None = None
    relearn_epochs: float = 7.0
    retrained_seeds: tuple[int, ...] = (0, 1, 2)

    def candidates_for(self, method: str) -> tuple[dict, ...]:
        """The settings validation chooses from for ``method``."""
        return self.candidates.get(method, self.default_candidates)

    def describe(self) -> str:
        """One line per axis of the grid, with the number of runs it makes."""
        n_val = sum(len(self.candidates_for(m)) for m in self.methods) * len(self.worlds)
        n_test = len(self.methods) * len(self.seeds) * len(self.worlds)
        return (f"grid {self.name!r}: worlds {', '.join(self.worlds)}; methods {', '.join(self.methods)}; "
                f"seeds {list(self.seeds)}; budget {self.epochs:g} epochs of the forget set for every method; "
                f"{n_val} validation runs + {n_test} test runs + {len(self.retrained_seeds) * len(self.worlds)} "
                "retrained seeds scored (fewer where a method cannot prepare a world's data: relabeling methods "
                "need question-answer items, which the books world does not have)")


def unlearning_methods() -> tuple[str, ...]:
    """Every registered method except plain fine-tuning, in registry order."""
    from ..methods import list_methods

    return tuple(m for m in list_methods() if m not in NOT_UNLEARNING)


def ci_grid() -> Grid:
    """Chapter 14's reduced grid: GradDiff, NPO and ME on the authors world, two learning rates, 3 seeds."""
    return Grid(name="ci", worlds=("authors",), methods=("graddiff", "npo", "me"))


def full_grid() -> Grid:
    """Every unlearning method on authors, hazard and books, three learning rates, 3 seeds."""
    return Grid(name="full", worlds=WORLDS, methods=unlearning_methods(),
                default_candidates=({}, {"learning_rate": 1e-4}, {"learning_rate": 1e-3}))


GRIDS = {"ci": ci_grid, "full": full_grid}


def get_grid(name: str | Grid, methods: list[str] | None = None, worlds: list[str] | None = None) -> Grid:
    """A grid by name (``ci`` or ``full``), optionally cut to some methods and worlds (names checked)."""
    from dataclasses import replace

    grid = name if isinstance(name, Grid) else _lookup(name, GRIDS, "grid")()
    if methods:
        known = tuple(dict.fromkeys((*unlearning_methods(), *grid.methods)))
        grid = replace(grid, methods=tuple(_check(m, known, "method") for m in methods))
    if worlds:
        grid = replace(grid, worlds=tuple(_check(w, WORLDS, "world") for w in worlds))
    return grid


def _lookup(name: str, table: dict, what: str):
    return table[_check(name, tuple(table), what)]


def _check(name: str, known, what: str) -> str:
    key = name.strip().lower().replace("-", "_")
    if key not in known:
        close = difflib.get_close_matches(key, list(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown {what} {name!r}{hint}; known: {', '.join(known)}")
    return key
