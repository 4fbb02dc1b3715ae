"""Does 4-bit quantization bring back what unlearning removed from a *pretrained* model?

Zhang et al. (2024, arXiv:2410.16454) quantized 7B models unlearned with GA or
NPO at a learning rate of 1e-5 and saw much of the forgotten knowledge return.
Chapter 12 tests the claim on the tiny tier inside the notebook, where it does
not hold because every update that forgets also changes quantization codes.
The published regime is a pretrained model and a small learning rate, so this
study runs it on the small tier (SmolLM2-135M-Instruct): it unlearns the
capitals the model knows, with full fine-tuning at 1e-5, and asks after 8- and
4-bit quantization whether each forget fact is again the model's first choice
(:func:`~unlearnlab.attacks.recall.value_is_top`).

A pretrained model takes minutes per run on two CPU cores, too slow for a
chapter in CI, so the study is a command whose small JSON result the chapter
reads (``results/quantization_small_tier.json``)::

    python -m unlearnlab.attacks.quantization_study --out results/quantization_small_tier.json

One more row per run locates the forgetting: the target with only the
unlearned model's quantized linear weights copied in (embeddings, norms and
the output layer stay the target's).  If that hybrid has forgotten too, the
forgetting lives in the weights quantization rounds, so rounding can undo it
only where those weights moved by less than the distance to a cell boundary.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import torch

from .quantization import code_change_fraction, quantize, quantized_linears
from .recall import value_is_top

#: (method, learning rate) pairs of the published regime: small steps, full fine-tuning
RUNS = (("npo", 1e-5), ("ga", 1e-5))
SEEDS = (0, 1, 2)
BITS = (8, 4)
EPOCHS, BATCH_SIZE = 5, 4


def share_known(model, tokenizer, items: Sequence[dict]) -> float:
    """Share of items whose value is still the model's first choice (teacher-forced)."""
    return sum(value_is_top(model, tokenizer, items)) / len(items)


def readout(model, tokenizer, forget: Sequence[dict], retain: Sequence[dict], row: dict) -> list[dict]:
    """One row per precision (full, then each of :data:`BITS`): the known share on forget and retain facts."""
    rows = []
    for bits in (None, *BITS):
        quantized = model if bits is None else quantize(model, bits=bits, library="rtn")
        rows.append({**row, "bits": bits, "known_forget": share_known(quantized, tokenizer, forget),
                     "known_retain": share_known(quantized, tokenizer, retain)})
    return rows


def with_linears_of(target, unlearned):
    """A copy of ``target`` with only the weights quantization rounds (its linear layers) taken from ``unlearned``."""
    hybrid = copy.deepcopy(target)
    theirs = dict(quantized_linears(unlearned))
    with torch.no_grad():
        for name, module in quantized_linears(hybrid):
            module.weight.copy_(theirs[name].weight)
    return hybrid


def split_known(model, tokenizer, facts: Sequence[dict], forget_attribute: str) -> tuple[list[dict], list[dict]]:
    """The facts the model knows, split into the forget attribute and the rest (the retain facts)."""
    known = [fact for fact, hit in zip(facts, value_is_top(model, tokenizer, facts)) if hit]
    keep = ("id", "question", "answer", "value")
    forget = [{k: f[k] for k in keep} for f in known if f["attribute"] == forget_attribute]
    retain = [{k: f[k] for k in keep} for f in known if f["attribute"] != forget_attribute]
    if not forget or not retain:
        raise ValueError(f"the model knows {len(forget)} '{forget_attribute}' facts and {len(retain)} others; "
                         "the study needs some of each: choose another forget_attribute")
    return forget, retain


def study(model, tokenizer, forget: Sequence[dict], retain: Sequence[dict], *, runs=RUNS, seeds=SEEDS,
          num_train_epochs: int = EPOCHS, batch_size: int = BATCH_SIZE) -> list[dict]:
    """Unlearn ``forget`` with each run and seed; rows of known shares at full, 8- and 4-bit precision.

    Rows carry ``model`` ("target", "unlearned" or "target + unlearned linears"),
    ``method``, ``learning_rate``, ``seed``, ``bits``, ``known_forget``,
    ``known_retain``, and for unlearned models the share of 4- and 8-bit codes
    changed and the run's steps and seconds.  ``model`` itself is not changed.
    """
    from ..training import unlearn

    rows = readout(model, tokenizer, forget, retain, {"model": "target"})
    for method, lr in runs:
        for seed in seeds:
            started = time.perf_counter()
            unlearned, log = unlearn(model, tokenizer, method, list(forget), list(retain), learning_rate=lr,
                                     num_train_epochs=num_train_epochs, per_device_train_batch_size=batch_size,
                                     seed=seed, disable_tqdm=True)
            run = {"method": method, "learning_rate": lr, "seed": seed}
            extra = {"steps": len(log.steps), "seconds": round(time.perf_counter() - started, 1),
                     "codes_changed_4bit": code_change_fraction(model, unlearned, bits=4),
                     "codes_changed_8bit": code_change_fraction(model, unlearned, bits=8)}
            rows += [{**r, **extra} for r in readout(unlearned, tokenizer, forget, retain, {"model": "unlearned", **run})]
            hybrid = with_linears_of(model, unlearned)
            rows.append({"model": "target + unlearned linears", **run, "bits": None,
                         "known_forget": share_known(hybrid, tokenizer, forget),
                         "known_retain": share_known(hybrid, tokenizer, retain)})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study on a model and the authors world's real-world facts; write the JSON result."""
    parser = argparse.ArgumentParser(prog="python -m unlearnlab.attacks.quantization_study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m", help="any name models.load takes")
    parser.add_argument("--forget-attribute", default="capital", help="the world_facts attribute to unlearn")
    parser.add_argument("--out", required=True, help="the JSON file to write (refused if it exists)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        parser.error(f"{out} exists; pass --overwrite to replace it")

    from .. import models, worlds
    from ..config import get_profile

    started = time.perf_counter()
    model, tokenizer = models.load(args.model)
    world = worlds.load("authors")
    forget, retain = split_known(model, tokenizer, world.items("world_facts"), args.forget_attribute)
    rows = study(model, tokenizer, forget, retain)
    result = {"model": args.model, "profile": get_profile().name, "forget_attribute": args.forget_attribute,
              "n_forget": len(forget), "n_retain": len(retain), "runs": [list(r) for r in RUNS],
              "num_train_epochs": EPOCHS, "batch_size": BATCH_SIZE, "date": date.today().isoformat(),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
              "seconds": round(time.perf_counter() - started), "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out} ({len(rows)} rows, {result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
