"""The main job: unlearn the forget10 authors several ways and judge each against retraining.

Steps: build the authors world; train (or load from the cache) the tiny target
and three retrained models with different seeds (exact unlearning, and its noise
floor); run each method on the forget split; evaluate every model; print a
table that leads with what the course teaches (distance to the retrained
models: facts recalled and ROUGE-L, utility, fluency, forget quality with its
caveat) and says in words where each method lands; write ``results.json`` and a
figure into a fresh output folder.

Everything that can fail is checked before any training: method names, the
model name and the output folder.  Without an explicit profile the quickstart
uses the small ``ci`` world, so that its first run, models included, takes a
few minutes on a laptop CPU.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Iterator, Sequence

from .cache import write_new
from .config import PROFILE_NAMES

logger = logging.getLogger(__name__)

#: the methods and the settings the quickstart runs them with (chosen on the ci world; see the README)
METHODS = ("ga", "graddiff", "npo", "random_label")
SETTINGS = {
    "ga": {"learning_rate": 3e-4, "num_train_epochs": 5},
    "graddiff": {"learning_rate": 1e-4, "num_train_epochs": 5},
    "npo": {"learning_rate": 1e-4, "num_train_epochs": 5},
    "random_label": {"learning_rate": 3e-4, "num_train_epochs": 5},
}
RETRAINED_SEEDS = (0, 1, 2)  # as in the chapters: three seeds make the noise floor
#: the table's columns, in the order the course reads them
COLUMNS = {
    "forget_fact_recall": "forget facts",
    "forget_rougeL_recall": "forget ROUGE-L",
    "retain_rougeL_f1": "retain ROUGE-L F1",
    "model_utility": "utility",
    "forget_repetition": "repetition",
    "forget_quality": "forget quality",
}
#: seconds each step took on the 2-core development CPU, ci profile, idle machine (cached: ~2 s)
ESTIMATE_S = {"target": 45, "retrained": 40, "unlearn": 20, "evaluate": 10}
LAPTOP_FACTOR = 8  # the laptop world is 5x larger and its tiny model 2x wider (README, measured runtimes)


def run(out: str | Path | None = None, forget: str = "forget10", methods: Sequence[str] = METHODS,
        model: str = "tiny", overwrite: bool = False, seed: int = 0, profile: str | None = None) -> dict:
    """Run the quickstart and return its summary (also written to ``out``)."""
    started = time.perf_counter()
    methods = check_methods(methods)
    check_model_name(model)
    chosen, why = choose_profile(profile)
    out = output_folder(out, overwrite)
    with active_profile(chosen):
        print_plan(chosen, why, methods, model, out)
        results, logs = train_and_evaluate(model, forget, methods, seed)
    summary = summarise(results, logs, chosen, model, forget, seed, time.perf_counter() - started)
    write_new(out / "results.json", json.dumps(summary, indent=2, default=float), overwrite)
    figure_path = out / "against_retrained.png"
    draw(results, summary["bands"]).savefig(figure_path)
    print(f"\nwrote {out / 'results.json'} and {figure_path} in {summary['wall_time_s']:.0f} s")
    return summary


# ----- checks before any training ---------------------------------------------------------------
def check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """Resolve every method name now (an unknown one fails with the closest match, before any work)."""
    from .methods import get_method

    names = tuple(m.strip() for m in methods if m.strip())
    if not names:
        raise ValueError("the quickstart needs at least one method, e.g. --methods npo")
    return tuple(get_method(name).name for name in names)


def check_model_name(model: str) -> None:
    """A tier, a hub id, or a folder that holds a model; anything else fails now, not after training."""
    from .models import TIERS, check_model_folder, looks_like_path

    if model in TIERS or model.startswith("hf:"):
        return
    if looks_like_path(model):
        check_model_folder(Path(model).expanduser())
        return
    raise ValueError(f"unknown model {model!r}: use one of {', '.join(TIERS)}, 'hf:<hub id>' or the path "
                     "of a local model folder.")


def choose_profile(profile: str | None) -> tuple[str, str]:
    """The explicit profile, else ``UNLEARNLAB_PROFILE``, else ``ci`` (a first run should take minutes), and why."""
    if profile:
        chosen, why = profile, "--profile"
    elif os.environ.get("UNLEARNLAB_PROFILE"):
        chosen, why = os.environ["UNLEARNLAB_PROFILE"], "UNLEARNLAB_PROFILE"
    else:
        chosen, why = "ci", "the quickstart's default; --profile laptop gives the TOFU-sized world"
    if chosen not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {chosen!r}; use one of {', '.join(PROFILE_NAMES)}")
    return chosen, why


def output_folder(out: str | Path | None, overwrite: bool) -> Path:
    """A writable output folder, made now; the default is new, named by time, never shared.

    An explicit folder that already holds results is refused unless ``overwrite``;
    one left half-written by an interrupted run (no ``results.json``) is reused.
    """
    if out is None:
        stamp = f"outputs/quickstart-{datetime.now():%Y%m%d-%H%M%S}"
        for n in range(1, 100):
            folder = Path(stamp if n == 1 else f"{stamp}-{n}")
            try:
                folder.mkdir(parents=True, exist_ok=False)  # exclusive: two runs never share a folder
                break
            except FileExistsError:
                continue
    else:
        folder = Path(out)
        if (folder / "results.json").exists() and not overwrite:
            raise FileExistsError(f"{folder} already holds results; pass --overwrite or choose another --out.")
        folder.mkdir(parents=True, exist_ok=True)
    probe = folder / ".write-test"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise PermissionError(f"cannot write into {folder} ({error.strerror}); choose another --out.") from None
    return folder


@contextlib.contextmanager
def active_profile(name: str) -> Iterator[None]:
    """Make ``name`` the active profile for the duration (every loader reads ``UNLEARNLAB_PROFILE``)."""
    before = os.environ.get("UNLEARNLAB_PROFILE")
    os.environ["UNLEARNLAB_PROFILE"] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("UNLEARNLAB_PROFILE", None)
        else:
            os.environ["UNLEARNLAB_PROFILE"] = before


def print_plan(profile: str, why: str, methods: Sequence[str], model: str, out: Path) -> None:
    """What will run and roughly how long each step takes the first time (cached models take seconds)."""
    from .devices import describe

    factor = LAPTOP_FACTOR if profile != "ci" else 1
    steps = [(f"train the retrained model, seed {s}", ESTIMATE_S["retrained"]) for s in RETRAINED_SEEDS]
    steps += [("train the target", ESTIMATE_S["target"])]
    steps += [(f"unlearn with {m}", ESTIMATE_S["unlearn"]) for m in methods]
    steps += [("evaluate every model", ESTIMATE_S["evaluate"] * (len(RETRAINED_SEEDS) + 1 + len(methods)))]
    print(f"unlearnlab quickstart · model {model} · profile {profile} ({why}) · device {describe()}")
    print(f"output: {out}\nplan (first run on a 2-core CPU; cached models take seconds):")
    for what, seconds in steps:
        print(f"  ~{seconds * factor / 60:4.1f} min  {what}")
    print(f"  ~{sum(s for _, s in steps) * factor / 60:4.1f} min  in all")


# ----- the work --------------------------------------------------------------------------------------
def train_and_evaluate(model: str, forget: str, methods: Sequence[str], seed: int):
    """Every model's evaluation, judged against retrained seed 0, and each unlearning run's log."""
    from . import models, worlds
    from .eval import evaluate
    from .training import unlearn

    world = worlds.load("authors")
    forget_set, retain_set = world.split(forget), world.split(world.retain_split(forget))
    logger.info("world: %d forget items, %d retain items", len(forget_set), len(retain_set))
    results, logs = {}, {}
    judge = None
    for s in RETRAINED_SEEDS:
        retrained, tokenizer = models.retrained(model, world, forget=forget, seed=s)
        name = f"retrained (seed {s})"
        results[name] = evaluate(retrained, tokenizer, world, forget=forget, retrained=judge, name=name)
        judge = judge or results[name]
    target, tokenizer = models.target(model, world)
    results["target"] = evaluate(target, tokenizer, world, forget=forget, retrained=judge, name="target")
    for method in methods:
        logger.info("unlearning with %s %s", method, SETTINGS.get(method, {}))
        unlearned, log = unlearn(target, tokenizer, method, forget_set, retain_set, seed=seed,
                                 **SETTINGS.get(method, {}))
        results[method] = evaluate(unlearned, tokenizer, world, forget=forget, retrained=judge, name=method,
                                   run_log=log)
        logs[method] = log.to_dict()
    return results, logs


def summarise(results: dict, logs: dict, profile: str, model: str, forget: str, seed: int,
              seconds: float) -> dict:
    """The table the quickstart prints, with each model's verdict against the retrained seed band."""
    from .eval.band import seed_bands, verdict

    summaries = {name: r.summary() for name, r in results.items()}
    retrained = [s for name, s in summaries.items() if name.startswith("retrained")]
    bands = seed_bands(retrained, list(COLUMNS))
    verdicts = {name: ("retrained" if name.startswith("retrained") else verdict(s, bands))
                for name, s in summaries.items()}
    n_forget = len(results["target"].split("forget").items)
    print_table(summaries, bands, verdicts, n_forget)
    return {"profile": profile, "model": model, "forget": forget, "seed": seed, "wall_time_s": round(seconds, 1),
            "settings": {m: SETTINGS.get(m, {}) for m in logs}, "verdicts": verdicts,
            "bands": {m: {"low": b.low, "high": b.high, "seeds": list(b.seeds)} for m, b in bands.items()},
            "summary": summaries, "unlearning_logs": logs}


def print_table(summaries: dict, bands: dict, verdicts: dict, n_forget: int) -> None:
    import pandas as pd

    table = pd.DataFrame({name: {label: s.get(key) for key, label in COLUMNS.items()}
                          for name, s in summaries.items()}).T
    table["verdict"] = pd.Series(verdicts)
    print("\n" + table.to_string(float_format=lambda v: f"{v:.3g}"))
    print("\nretrained band (seeds " + ", ".join(map(str, RETRAINED_SEEDS)) + ", widened by their spread): " +
          "; ".join(f"{COLUMNS[m]} {b.low:.2f}–{b.high:.2f}" for m, b in bands.items() if m in COLUMNS))
    print(f"forget quality is a KS-test p-value against retrained seed 0 on {n_forget} items: it cannot tell a "
          "collapsed model from a good one (read it with the verdict), and retrained seeds already differ by it.")


def draw(results: dict, bands: dict):
    """Facts recalled (does it still know?) and ROUGE-L (does it still answer in kind?) against utility."""
    from .notebook.figures import plot_against_retrained
    from .notebook.style import figure

    fig, axes = figure(ncols=2, width=10.0, height=3.6, sharey=True)
    for ax, x in zip(axes, ("forget_fact_recall", "forget_rougeL_recall")):
        plot_against_retrained(results, bands, x=x, y="model_utility", ax=ax)
    return fig
