"""Write your own method: the template of chapter 14 (copy this class into a notebook cell and fill it in).

A method is one small dataclass.  Its fields are its hyperparameters, its
docstring states its formula, and its one job is ``forget_loss``: the base
class :class:`~unlearnlab.methods.base.Method` adds the retain term
(α·L_retain) and runs the forget and retain batches through the model in one
forward pass, and :func:`unlearnlab.unlearn` does the rest.

To take part in the leaderboard:

1. copy :class:`MyMethod`, give it a new ``name`` and a formula;
2. fill in ``forget_loss`` (the TODO) from ``logits["forget"]`` and
   ``forget["labels"]`` (−100 on prompt and padding positions);
3. decorate it with ``@register`` (from ``unlearnlab.methods``);
4. hand the class to :func:`unlearnlab.leaderboard.submit`, which checks it
   (it refuses a class whose ``forget_loss`` is still the template's, or reads
   a batch key that training does not provide) and runs it through the same
   grid, budget and evaluation as every other method.

``forget`` holds ``input_ids``, ``attention_mask`` and ``labels``, plus
``ref_logp`` (log π_ref(y|x) of each answer) when the class sets
``reference_logprobs = True``; ``logits`` holds ``"forget"``, and ``"retain"``
when α > 0.

The helpers most methods need are in :mod:`unlearnlab.numerics` (``shift``,
``token_logprobs``, ``sequence_nll``, ``mean_nll``) and
:mod:`unlearnlab.methods.base` (``answer_logprob``, ``token_kl``).  The
solution of the exercise is :class:`unlearnlab.methods.entropy.MaxEntropy`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import Method


@dataclass
class MyMethod(Method):
    """MY METHOD: L_forget = ... (write the formula here, and cite the paper it comes from).

    Hyperparameters: the dataclass fields (γ, α and ``retain_loss`` come from
    :class:`Method`; add your own below, e.g. ``beta: float = 0.1``).
    Not registered: register your copy under its own name.
    """

    name = "my_method"

    def forget_loss(self, logits: dict[str, torch.Tensor], forget, reference) -> torch.Tensor:
        """L_forget from ``logits["forget"]`` ([batch, length, vocabulary]) and ``forget["labels"]``."""
        # TODO: return a scalar tensor; lower must mean "more forgotten".  For example, gradient ascent
        # is `return -mean_nll(logits["forget"], forget["labels"])` (from unlearnlab.numerics).
        raise NotImplementedError(
            f"{type(self).__name__}.forget_loss is the template's: fill in the TODO in "
            "unlearnlab/methods/template.py's copy you made (chapter 14, 'Write your own method')")
