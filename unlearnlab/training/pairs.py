"""The training data: encoded forget items, each paired with a retain item, padded into batches.

An epoch is one pass over the forget set, however large the retain set is (as
in TOFU and open-unlearning).  Forget item ``i`` of epoch ``e`` is paired with a
retain item drawn from a generator seeded with ``(seed, e, i)``: the pairing is
a pure function of those three numbers, so it does not depend on the order in
which the dataloader asks for items, on the number of dataloader workers, or on
the process (every rank of a multi-GPU run draws the same pair for item ``i``).
"""
from __future__ import annotations

import numpy as np
import torch

from ..formats import pad_batch


class ForgetRetainPairs(torch.utils.data.Dataset):
    """Item i: forget example i, plus a retain example drawn from ``(seed, epoch, i)`` when there is a retain set."""

    def __init__(self, forget, retain=None, seed: int = 0):
        self.forget, self.retain, self.seed = forget, retain, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by the Trainer's dataloader at the start of every epoch: new epoch, new pairs."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.forget)

    def __getitem__(self, index: int) -> dict:
        item = {"forget": self.forget[index]}
        if self.retain is not None and len(self.retain):
            item["retain"] = self.retain[retain_index(self.seed, self.epoch, index, len(self.retain))]
        return item


def retain_index(seed: int, epoch: int, index: int, n_retain: int) -> int:
    """The retain item paired with forget item ``index`` in ``epoch``: uniform, and a pure function of its inputs."""
    return int(np.random.default_rng([seed, epoch, index]).integers(n_retain))


class PairCollator:
    """Right-pad each stream (forget, its ``preferred`` answers, retain) into its own tensors."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict]) -> dict[str, dict[str, torch.Tensor]]:
        return {stream: self.pad([f[stream] for f in features]) for stream in features[0]}

    def pad(self, rows: list[dict]) -> dict:
        """One stream's rows as padded tensors; a nested stream (``preferred``) is padded on its own."""
        nested = [key for key, value in rows[0].items() if isinstance(value, dict)]
        batch = pad_batch([{k: v for k, v in row.items() if k not in nested} for row in rows], self.pad_token_id)
        for key in nested:
            batch[key] = pad_batch([row[key] for row in rows], self.pad_token_id)
        return batch


def real_tokens(batch: dict) -> torch.Tensor:
    """Unpadded tokens of every stream of a batch (forget, its preferred answers, retain)."""
    streams = [batch["forget"], batch.get("retain"), batch["forget"].get("preferred")]
    return sum(s["attention_mask"].sum() for s in streams if s is not None)
