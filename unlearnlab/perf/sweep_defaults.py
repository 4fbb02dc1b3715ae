"""How the tiny-tier defaults of RMU and SimNPO were chosen: a small grid on a validation world.

    python -m unlearnlab.perf.sweep_defaults rmu     --profile ci   # hazard world, seed 1
    python -m unlearnlab.perf.sweep_defaults simnpo  --profile ci   # authors world, seed 1

A method's published hyperparameters were tuned on 1B-7B models; on the course's
tiny from-scratch models they can change nothing (RMU) or very little (SimNPO).
This script trains the tiny target on a *validation* world, the same generator
with another seed (``worlds.load(name, seed=1)``), so the chapters' world (seed 0)
never chooses its own hyperparameters.  It runs every setting of a small grid
through :func:`unlearnlab.unlearn` with the profile's epochs and batch size (what
a default call uses), prints one row per setting, and picks one by a stated rule:

* **rmu**: the lowest forget-domain MCQ accuracy among the settings whose
  retain-domain accuracy is within 0.05 of the target's.  c is scaled to the
  mean activation norm at the steered layer (the control vector c·u must stand
  out against the activations it replaces); the learning rate is 1e-2, the
  value that works in the tests.
* **simnpo**: the largest drop in forget fact recall among the settings that keep
  model utility at ≥ 0.8 × the target's.

The chosen values go into the method's ``tier_defaults`` by hand, with the table
in its docstring.
"""
from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable

import torch

from .. import worlds
from ..eval import evaluate
from ..eval.mcq import mcq_accuracy
from ..methods.reference import capture_output
from ..methods.representation import decoder_layers, wmdp_layer
from ..models import target
from ..training import unlearn

RMU_LEARNING_RATE = 1e-2  # the learning rate of the tests' working RMU runs
RMU_ALPHAS = (10.0, 100.0)
RMU_NORM_MULTIPLES = (4.0, 16.0, 64.0)  # c = multiple × mean activation norm at the steered layer
RMU_RETAIN_TOLERANCE = 0.05
SIMNPO_GRID = {"beta": (2.5, 4.5), "gamma": (0.125, 1.0), "learning_rate": (3e-4, 1e-3)}
SIMNPO_UTILITY_FLOOR = 0.8


def activation_norm(model, tokenizer, items: list[dict], layer: int) -> float:
    """Mean L2 norm of the output of decoder layer ``layer`` over the real tokens of ``items``."""
    module = decoder_layers(model)[1][layer]
    texts = [f"{item['question']} {item['answer']}" for item in items]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad(), capture_output(module) as captured:
        model(**batch)
    norms = captured[0].float().norm(dim=-1)
    mask = batch["attention_mask"].bool()
    return float(norms[mask].mean())


def mcq_scores(model, tokenizer, world) -> dict[str, float]:
    """Forget- and retain-domain multiple-choice accuracy (chance is 0.25)."""
    return {split: mcq_accuracy(model, tokenizer, world.items(split))["accuracy"]
            for split in ("forget_mcq", "retain_mcq")}


def sweep_rmu() -> dict:
    world = worlds.load("hazard", seed=1)
    model, tokenizer = target("tiny", world)
    layer = wmdp_layer(model.config.num_hidden_layers)
    norm = activation_norm(model, tokenizer, world.items("forget_qa"), layer)
    before = mcq_scores(model, tokenizer, world)
    print(f"hazard world seed 1: mean activation norm at layer {layer} = {norm:.1f}; target: "
          f"forget MCQ {before['forget_mcq']:.3f}, retain MCQ {before['retain_mcq']:.3f}", flush=True)
    rows = []
    for multiple, alpha in itertools.product(RMU_NORM_MULTIPLES, RMU_ALPHAS):
        settings = {"steering_coeff": round(multiple * norm), "alpha": alpha, "learning_rate": RMU_LEARNING_RATE}
        rows.append(run(settings, lambda s: mcq_scores(unlearn(model, tokenizer, "rmu", world.split("forget_qa"),
                                                               world.split("retain_qa"), disable_tqdm=True,
                                                               **s)[0], tokenizer, world)))
    ok = [r for r in rows if r["retain_mcq"] >= before["retain_mcq"] - RMU_RETAIN_TOLERANCE]
    return min(ok, key=lambda r: r["forget_mcq"]) if ok else {}


def simnpo_scores(model, tokenizer, world) -> dict[str, float]:
    """Forget fact recall and model utility (greedy answers; only the splits these two need)."""
    splits = ["forget", "retain", *(s for s in ("world_facts", "real_authors", "real_world") if s in world.tables)]
    result = evaluate(model, tokenizer, world, splits=splits, gradnorm=False, progress=False)
    return {key: result.aggregates[key] for key in ("forget_fact_recall", "model_utility")}


def sweep_simnpo() -> dict:
    world = worlds.load("authors", seed=1)
    model, tokenizer = target("tiny", world)
    before = simnpo_scores(model, tokenizer, world)
    print(f"authors world seed 1: target forget fact recall {before['forget_fact_recall']:.3f}, "
          f"model utility {before['model_utility']:.3f}", flush=True)
    forget, retain = world.default_forget, world.forget_to_retain[world.default_forget]
    rows = []
    for values in itertools.product(*SIMNPO_GRID.values()):
        settings = dict(zip(SIMNPO_GRID, values))
        rows.append(run(settings, lambda s: simnpo_scores(unlearn(model, tokenizer, "simnpo", forget, retain,
                                                                  world=world, disable_tqdm=True, **s)[0],
                                                          tokenizer, world)))
    ok = [r for r in rows if r["model_utility"] >= SIMNPO_UTILITY_FLOOR * before["model_utility"]]
    return min(ok, key=lambda r: r["forget_fact_recall"]) if ok else {}


def run(settings: dict, score: Callable[[dict], dict]) -> dict:
    """Train and score one setting; print its row (settings, scores, seconds)."""
    start = time.perf_counter()
    row = {**settings, **score(settings)}
    row["seconds"] = time.perf_counter() - start
    print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("method", choices=("rmu", "simnpo"))
    parser.add_argument("--profile", default=None, help="run profile (default: UNLEARNLAB_PROFILE or detected)")
    options = parser.parse_args()
    if options.profile:
        os.environ["UNLEARNLAB_PROFILE"] = options.profile
    start = time.perf_counter()
    chosen = sweep_rmu() if options.method == "rmu" else sweep_simnpo()
    print(f"chosen: {chosen or 'no setting met the rule'}; sweep took {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
