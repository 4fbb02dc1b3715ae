"""Methods built on a *reinforced* model: the target fine-tuned further on the forget set.

Fine-tuning on D_f shows which way the weights (task arithmetic) or the
next-token predictions (Who's Harry Potter) move when the model learns *more*
of the forget knowledge; both methods then go the opposite way.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import torch

from ..numerics import shift
from .base import Finetune, Method, forward_logits, register, require_reference, soft_cross_entropy
from .gradient import Descent


@register
@dataclass
class TaskVector(Descent):
    """Task-vector negation: θ_unlearned = θ_target − s·(θ_reinforced − θ_target).

    Training is plain descent on the forget set (this gives θ_reinforced); at
    the end the weights are moved the same distance the other way, scaled by
    ``scale`` (α in the paper, usually 1–5).  Ilharco et al., "Editing Models
    with Task Arithmetic" (ICLR 2023); the task-vector baseline of "Who's Harry
    Potter" and MUSE.  With LoRA the task vector is the adapter's B·A, so only
    the B matrices are negated and scaled (negating A as well would cancel out).
    Defaults: scale = 1, γ = 1, α = 0.
    """

    scale: float = 1.0
    name = "task_vector"
    needs_original = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least("scale", strict=True)

    @torch.no_grad()
    def finalize(self, model, original: dict[str, torch.Tensor]) -> None:
        for name, param in model.named_parameters():
            if name in original and "lora_A" not in name:
                start = original[name].to(param.device)
                param.copy_(start - self.scale * (param - start))


@register
@dataclass
class WhoIsHarryPotter(Method):
    """Who's Harry Potter (soft generic labels):
    L_forget = mean_t CE( softmax(v_base − s·ReLU(v_reinforced − v_base)), p_θ ),

    v_base and v_reinforced the logits of the original and the reinforced model
    on the forget text.  Tokens the reinforced model likes *more* than the base
    model are the ones tied to the forget knowledge; lowering them gives a
    "generic" prediction, which the model is fine-tuned to imitate.  Eldan and
    Russinovich, "Who's Harry Potter? Approximate Unlearning in LLMs" (2023,
    arXiv:2310.02238).

    **Generic-term replacement** (the paper's second ingredient), when
    ``generic_terms`` is given (anchor → generic pairs, e.g. from
    :func:`anchored_terms`): each forget item is translated with
    :func:`replace_terms`, v_base is computed on the *translated* text, and
    each original position takes the translated position that
    :func:`unlearnlab.formats.align_tokens` pairs it with (the same token outside
    the anchors; the anchor's last token takes the generic term's last token;
    positions inside a longer anchor have no counterpart and keep the
    untranslated v_base).  The reinforcement term ReLU(v_reinforced − v_base) is
    always computed on the original text, where both models read the same
    tokens.  How this differs from the paper: the paper lets GPT-4 pick anchors
    and translations, and fine-tunes on the (hard) labels of the combined
    prediction over long book passages; here the anchors come from the world's
    metadata, the generic stand-ins are names and titles of held-out authors
    the model never learned about, the items are short QA pairs, and the labels
    stay soft, as without replacement.

    ``reinforced`` is a model fine-tuned further on the forget set; when it is
    None, :meth:`setup` builds one (plain fine-tuning for ``reinforce_epochs``
    epochs) before training starts.  Defaults: s (``strength``, α in the paper) = 5,
    γ = 1, α = 0.
    """

    alpha: float = 0.0
    strength: float = 5.0
    reinforce_epochs: float = 3.0
    generic_terms: tuple[tuple[str, str], ...] | None = None
    reinforced: Any = field(default=None, repr=False)
    name = "whp"
    live_reference = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least("strength")
        self.check_at_least("reinforce_epochs", strict=True)
        if isinstance(self.generic_terms, Mapping):  # a dict is accepted; a tuple of pairs is logged as it is
            self.generic_terms = tuple(self.generic_terms.items())

    def prepare_forget(self, forget, retain, seed: int):
        """With ``generic_terms``, add the translated question and answer (encoded as the ``generic`` stream)."""
        if not self.generic_terms:
            return forget
        if "question" not in forget.column_names:
            raise ValueError("whp's generic-term replacement translates QA items (question/answer columns)")
        mapping = dict(self.generic_terms)
        return forget.map(lambda row: {"generic_question": replace_terms(row["question"], mapping),
                                       "generic_answer": replace_terms(row["answer"], mapping)})

    def setup(self, model, tokenizer, forget, finetune: Finetune) -> "WhoIsHarryPotter":
        """Fine-tune a copy of the model further on the forget set: the reinforced model, frozen."""
        if self.reinforced is not None:
            return self
        reinforced = finetune(copy.deepcopy(model), forget, self.reinforce_epochs)
        return replace(self, reinforced=reinforced.eval().requires_grad_(False))

    def forget_loss(self, logits, forget, reference):
        require_reference(reference, self.name, "the base logits v_base")
        if self.reinforced is None:
            raise ValueError("whp needs a reinforced model (the target fine-tuned further on the forget set): "
                             "pass reinforced=<model>, or run it through unlearnlab.unlearn(), "
                             "whose setup step builds one.")
        base = reference.logits(forget)
        with torch.no_grad():
            boosted = forward_logits(self.reinforced, forget)
        if self.generic_terms and "generic" not in forget:
            raise ValueError("whp with generic_terms needs the translated text in the batch: encode the forget set "
                             "after method.prepare_forget() (ul.unlearn does), which adds the 'generic' stream")
        anchored = translated_base(reference, forget, base) if self.generic_terms else base
        generic = anchored.float() - self.strength * torch.relu(boosted.float() - base.float())
        generic, _, mask = shift(generic, forget["labels"])
        return soft_cross_entropy(logits["forget"][:, :-1].float(), torch.softmax(generic, -1), mask)


def translated_base(reference, forget, base: torch.Tensor) -> torch.Tensor:
    """v_base read from the translated text: each original position takes its aligned translated position.

    ``forget["generic_align"][b, t]`` is the translated position standing in for
    original position t (−1: none, keep ``base``).  ``base`` starts at
    ``forget["logits_start"]``, so the alignment is cut the same way.
    """
    start = forget.get("logits_start", 0)
    translated = reference.logits({**forget["generic"], "logits_start": 0})
    align = forget["generic_align"][:, start:start + base.shape[1]].to(base.device)
    picked = translated.gather(1, align.clamp_min(0).unsqueeze(-1).expand(-1, -1, translated.shape[-1]))
    return torch.where((align >= 0).unsqueeze(-1), picked, base)


def replace_terms(text: str, mapping: Mapping[str, str]) -> str:
    """Replace every anchored term of ``mapping`` in ``text`` by its generic stand-in, and nothing else.

    Whole words only (``"Ann"`` does not touch ``"Anna"``), longest anchor first
    (so ``"Ann Lee"`` wins over ``"Ann"``), in one pass (a replacement is never
    replaced again).  WHP's "generic translation" of a text.
    """
    if not mapping:
        return text
    anchors = sorted(mapping, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(a) for a in anchors) + r")(?!\w)")
    return pattern.sub(lambda match: mapping[match.group(0)], text)


GENERIC_ATTRIBUTES = ("first_book", "latest_book", "award")  # the world's idiosyncratic values besides names


def anchored_terms(world, forget: str, generic_split: str = "holdout",
                   attributes: tuple[str, ...] = GENERIC_ATTRIBUTES) -> dict[str, str]:
    """An anchor → generic dictionary for WHP on an authors-like world.

    Anchors are what is idiosyncratic to the forget set: the forget authors'
    names and their ``attributes`` values (book titles, awards) that no item
    outside the forget split mentions (a shared award is not an anchor).  Each
    is paired with the same kind of term from an author of ``generic_split``
    (the held-out authors, whose facts the target never learned), so that the
    target reading the translated text predicts what it would for an author it
    knows nothing about: the paper's "generic" prediction.  Deterministic.
    """
    forget_items = world.items(forget)
    forget_ids = {item["author_id"] for item in forget_items}
    others = " ".join(f"{i.get('question', '')} {i.get('answer', '')}" for split in world.splits
                      for i in world.items(split) if split != forget and i.get("author_id") not in forget_ids)
    generic_items = world.items(generic_split)
    pools = {"author": list(dict.fromkeys(i["author"] for i in generic_items))}
    for attribute in attributes:
        pools[attribute] = list(dict.fromkeys(i["value"] for i in generic_items if i["attribute"] == attribute))
    mapping: dict[str, str] = {}
    used = {kind: 0 for kind in pools}

    def pair(term: str, kind: str) -> None:
        if term in mapping or not pools[kind]:
            return
        mapping[term] = pools[kind][used[kind] % len(pools[kind])]
        used[kind] += 1

    for item in forget_items:
        pair(item["author"], "author")
        if item["attribute"] in attributes and not re.search(r"(?<!\w)" + re.escape(item["value"]) + r"(?!\w)",
                                                             others):
            pair(item["value"], item["attribute"])
    return mapping


# ----- task vectors as weights -------------------------------------------------------------------
def task_vector(tuned, start) -> dict[str, torch.Tensor]:
    """τ = θ_tuned − θ_start for every parameter (both models of the same architecture)."""
    before = dict(start.named_parameters())
    return {name: (param.detach() - before[name].detach()).clone() for name, param in tuned.named_parameters()}


def lora_task_vector(peft_model) -> dict[str, torch.Tensor]:
    """A LoRA adapter's task vector as full weight deltas: τ_W = (lora_alpha / r)·B·A for each adapted W.

    Keys are the base model's parameter names (``model.layers.0.self_attn.q_proj.weight``),
    so the vector applies to the plain target with :func:`apply_task_vector`.
    Its rank is at most r: the whole update lives in an r-dimensional subspace.
    """
    vector = {}
    for name, module in peft_model.named_modules():
        if hasattr(module, "lora_A") and hasattr(module, "base_layer") and module.lora_A:
            for adapter in module.lora_A:
                delta = module.get_delta_weight(adapter).detach().clone()
                key = name.replace("base_model.model.", "", 1) + ".weight"
                vector[key] = vector.get(key, 0) + delta
    return vector


@torch.no_grad()
def apply_task_vector(model, vector: Mapping[str, torch.Tensor], alpha: float):
    """A copy of ``model`` with θ − α·τ (α > 0 negates the task; α = 0 returns the same weights)."""
    out = copy.deepcopy(model)
    params = dict(out.named_parameters())
    missing = sorted(set(vector) - set(params))
    if missing:
        raise KeyError(f"the task vector names parameters the model lacks: {missing[:3]}")
    for name, delta in vector.items():
        params[name].sub_(alpha * delta.to(params[name].device, params[name].dtype))
    return out.eval()
