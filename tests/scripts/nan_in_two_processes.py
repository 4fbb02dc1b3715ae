"""Run by tests/test_examples.py under ``torch.distributed.run``: a NaN on one process must stop both.

Only rank 1's loss is NaN; each process writes what it saw into ``<out>/rank<r>.txt``.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import datasets

from unlearnlab.methods import Method
from unlearnlab.models.tiny import build_tiny, train_tokenizer
from unlearnlab.training import unlearn

RANK = int(os.environ["RANK"])


@dataclass
class NanOnRankOne(Method):
    """Descent, except that process 1 computes a NaN loss."""

    alpha: float = 0.0
    name = "nan_on_rank_one"

    def forget_loss(self, logits, forget, reference):
        loss = logits["forget"].float().mean()
        return loss * float("nan") if RANK == 1 else loss


def main(out: Path) -> None:
    texts = ["Ada Quillon was born in Lisbon.", "Ben Marrow writes mystery novels."] * 4
    tokenizer = train_tokenizer(texts, vocab_size=300)
    model = build_tiny(tokenizer, hidden=32, layers=1)
    forget = datasets.Dataset.from_list([{"text": text} for text in texts])
    try:
        unlearn(model, tokenizer, NanOnRankOne(), forget, max_steps=2, per_device_train_batch_size=2,
                disable_tqdm=True)
        outcome = "finished"
    except FloatingPointError as error:
        outcome = f"stopped: {error}"
    (out / f"rank{RANK}.txt").write_text(outcome)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
