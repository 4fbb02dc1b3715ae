"""Small models trained on a chosen list of items, with items left out: exact leave-one-out, cached.

Influence functions predict what retraining without an example would do; the
only way to check them is to retrain.  :func:`fitted` trains a very small tiny-tier
model (default 64 wide, 2 blocks) on a small world's items with
:func:`unlearnlab.training.influence.fit`, which keeps the initial weights and the
data order fixed, so that two models differ only by the items left out
(``drop``) or by the data-order seed (``seed``).  Each model is cached under
everything that determines its weights.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import datasets
import torch
import transformers

from .._version import __version__
from ..cache import cached
from ..config import get_profile
from ..formats import encode_dataset
from ..training.influence import fit
from ..worlds import World
from .tiny import build_tiny

#: The recipe of the small models: a few seconds each on one CPU core, training loss near zero.
RECIPE = {"hidden": 64, "layers": 2, "epochs": 40, "learning_rate": 1e-2, "batch_size": 16, "init_seed": 0}


def fitted(world: World, tokenizer, split: str = "full", *, drop: Sequence[int] = (), seed: int = 0,
           device: str | torch.device = "cpu", **recipe):
    """A small model trained on ``world.tables[split]`` without the items at positions ``drop`` (cached).

    ``seed`` sets the data order; the initial weights are fixed by the recipe's
    ``init_seed``.  ``recipe`` overrides entries of :data:`RECIPE`.  Returns the model
    (in eval mode, eager attention, so that second derivatives work everywhere).
    """
    settings = {**RECIPE, **recipe}
    rows = list(world.tables[split])
    spec = {"kind": "leave-out-model", "world": world.name, "world_fingerprint": world.fingerprint, "split": split,
            "drop": sorted(int(i) for i in drop), "seed": seed, "recipe": settings,
            "profile": get_profile().name,
            "versions": {"unlearnlab": __version__, "torch": torch.__version__,
                         "transformers": transformers.__version__}}

    def build(folder: Path) -> None:
        encoded = encode_dataset(datasets.Dataset.from_list(rows), tokenizer)
        model = build_tiny(tokenizer, settings["hidden"], settings["layers"], seed=settings["init_seed"])
        fit(model, encoded, tokenizer.pad_token_id, epochs=settings["epochs"], learning_rate=settings["learning_rate"],
            batch_size=settings["batch_size"], seed=seed, drop=drop)
        model.save_pretrained(folder)

    folder = cached("models", spec, build, verbose=False)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager")
    return model.to(device).eval()
