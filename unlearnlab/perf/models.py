"""How long the zoo's models take to train and how well they learn the world (printed, never asserted).

    python -m unlearnlab.perf.models tiny  --profile ci       # target and retrained model, from scratch
    python -m unlearnlab.perf.models small --profile ci       # SmolLM2-135M fine-tuned on the ci world

``tiny`` trains the tiny target and the retrained model in a fresh,
temporary cache (so nothing cached is reused or touched), times each and reports
the share of its own training questions each answers exactly (greedy decoding).
The course's targets: >= 95 % exact match, <= 3 minutes each in the ci profile and
<= 10 minutes in the laptop profile on a 2-core CPU.

``small`` fine-tunes the small tier (SmolLM2-135M-Instruct) on the ci world's
training QA and reports ROUGE-L recall of its greedy answers on a sample of those
questions; target >= 0.80.
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

import numpy as np

from .. import worlds
from ..config import get_profile
from ..notebook.tables import answers_table
from ..devices import describe
from ..eval.generation import exact_match
from ..training import finetune
from ..models import load, retrained, target, training_recipe


def answer_scores(model, tokenizer, items, max_new_tokens: int) -> dict[str, float]:
    """Exact match and ROUGE-L recall of greedy answers to ``items``."""
    table = answers_table({"model": model}, tokenizer, items, max_new_tokens, with_rouge=True)
    return {"exact_match": float(np.mean([exact_match(a, t) for a, t in zip(table["model"], table["truth"])])),
            "rougeL_recall": float(table["model ROUGE-L"].mean())}


def bench_tiny(profile: str, forget: str) -> None:
    world = worlds.load("authors", profile)
    max_new = get_profile(profile).max_new_tokens
    with tempfile.TemporaryDirectory() as cache:
        os.environ["UNLEARNLAB_CACHE"] = cache  # a fresh cache: both models are really trained
        for role, build in (("target", lambda: target("tiny", world, profile)),
                            ("retrained", lambda: retrained("tiny", world, forget, profile))):
            start = time.perf_counter()
            model, tokenizer = build()
            minutes = (time.perf_counter() - start) / 60
            items = list(world.training_set(None if role == "target" else forget))
            scores = answer_scores(model, tokenizer, items, max_new)
            print(f"tiny {role:<9} profile {profile}: {len(items)} training QA, "
                  f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, "
                  f"trained in {minutes:.1f} min, exact match {scores['exact_match']:.1%}, "
                  f"ROUGE-L recall {scores['rougeL_recall']:.3f}", flush=True)


def bench_small(profile: str, n_eval: int, epochs: float | None) -> None:
    world = worlds.load("authors", profile)
    data = world.training_set(None)
    model, tokenizer = load("smollm2-135m")
    recipe = training_recipe("smollm2-135m", profile)
    if epochs is not None:
        recipe["num_train_epochs"] = epochs
    sample = random.Random(0).sample(list(data), min(n_eval, len(data)))
    before = answer_scores(model, tokenizer, sample, get_profile(profile).max_new_tokens)
    start = time.perf_counter()
    model, _ = finetune(model, tokenizer, data, inplace=True, **recipe)
    minutes = (time.perf_counter() - start) / 60
    after = answer_scores(model, tokenizer, sample, get_profile(profile).max_new_tokens)
    print(f"smollm2-135m profile {profile}: fine-tuned on {len(data)} QA for {recipe['num_train_epochs']:g} epochs "
          f"(lr {recipe['learning_rate']:g}, batch {recipe['per_device_train_batch_size']}) in {minutes:.1f} min; ROUGE-L recall on "
          f"{len(sample)} training questions {before['rougeL_recall']:.3f} -> {after['rougeL_recall']:.3f}, "
          f"exact match {before['exact_match']:.1%} -> {after['exact_match']:.1%}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m unlearnlab.perf.models", description=__doc__.split("\n")[0])
    parser.add_argument("tier", choices=["tiny", "small"])
    parser.add_argument("--profile", default=os.environ.get("UNLEARNLAB_PROFILE", "ci"))
    parser.add_argument("--forget", default="forget10")
    parser.add_argument("--n-eval", type=int, default=100, help="small: training questions scored")
    parser.add_argument("--epochs", type=float, default=None, help="small: override the profile's epochs")
    args = parser.parse_args(argv)
    print(describe())
    if args.tier == "tiny":
        bench_tiny(args.profile, args.forget)
    else:
        bench_small(args.profile, args.n_eval, args.epochs)


if __name__ == "__main__":
    main()
