"""How long the evaluation suite takes: ``python -m unlearnlab.perf.evaluation``.

Runs :func:`unlearnlab.eval.evaluate` on the authors world with the tiny model
(untrained by default: it never stops early, so generation runs to
``max_new_tokens`` for every question, the slow case) and prints the time of
each pass, items per second and peak memory.  Figures are printed, not asserted.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from .. import models, worlds
from ..devices import describe
from ..numerics import count_parameters
from ..eval.suite import evaluate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time the evaluation suite on the authors world.")
    parser.add_argument("--profile", default=os.environ.get("UNLEARNLAB_PROFILE", "ci"))
    parser.add_argument("--forget", default="forget10")
    parser.add_argument("--trained", action="store_true",
                        help="use the cached trained target and retain-only reference (trains them if missing)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2, help="timed runs after one warm-up run")
    args = parser.parse_args(argv)
    os.environ["UNLEARNLAB_PROFILE"] = args.profile

    world = worlds.load("authors", args.profile)
    if args.trained:
        model, tokenizer = models.target("tiny", world, args.profile)
        reference_model, _ = models.retrained("tiny", world, args.forget, args.profile)
    else:
        model, tokenizer = models.load("tiny", world, args.profile)
        reference_model = models.load("tiny", world, args.profile)[0]
    print(f"device {describe()} · torch threads {torch.get_num_threads()} · profile {args.profile} · "
          f"tiny model {count_parameters(model) / 1e6:.2f}M parameters · {'trained' if args.trained else 'untrained'}")

    reference = evaluate(reference_model, tokenizer, world, args.forget, name="reference",
                         batch_size=args.batch_size)
    for label, kwargs in (("suite", {"retrained": reference}),
                          ("suite + retrained model", {"retrained": reference, "retrained_model": reference_model})):
        for run in range(args.repeat + 1):
            started = time.perf_counter()
            result = evaluate(model, tokenizer, world, args.forget, batch_size=args.batch_size, **kwargs)
            wall = time.perf_counter() - started
            if run == 0:
                continue  # warm-up
            n_items = sum(result.meta["n_items"].values())
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in result.meta["timings_s"].items())
            print(f"{label:<24} {wall:6.1f} s for {n_items} items ({n_items / wall:.0f} items/s; {phases}); "
                  f"peak memory {result.meta['eval_peak_memory_mb']:.0f} MB")
    print(f"splits: {result.meta['n_items']}; max_new_tokens {result.meta['max_new_tokens']}")
    print(f"forget_quality {result.aggregates.get('forget_quality', float('nan')):.3g}, "
          f"model_utility {result.aggregates.get('model_utility', float('nan')):.3g}, "
          f"JSON size {len(result.to_json()) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
