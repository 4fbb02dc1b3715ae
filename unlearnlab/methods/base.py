"""The ``Method`` base class, the registry of methods by name, and the losses they share.

Almost every unlearning method in the survey has the same shape,

    total = γ · L_forget + α · L_retain,

and differs only in ``L_forget``.  So a method here is a small dataclass whose
fields are its hyperparameters and whose one job is :meth:`Method.forget_loss`;
the base class adds the retain term (NLL on retain data, or the per-token
KL(p_ref ‖ p_θ) to the frozen original model) and runs the forget and retain
batches through the model in a single forward pass.

Everything else (optimiser, batching, LoRA, mixed precision, logging) is the
job of :mod:`unlearnlab.training`, so a learner can read a method as the formula
it implements.  What a method needs before training (Who's Harry Potter's
reinforced model) it builds itself in :meth:`Method.setup`.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, fields
from typing import Callable, ClassVar, TypedDict

import torch
import torch.nn.functional as F

from ..numerics import IGNORE_INDEX, mean_nll, sequence_nll, shift


class Batch(TypedDict, total=False):
    """One padded stream of a training batch, as the collator builds it and the losses read it."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor  # -100 on prompt and padding positions
    ref_logp: torch.Tensor  # log π_ref(y|x) per row, precomputed before training (NPO, DPO)
    preferred: "Batch"  # DPO: the refusal answers to the same questions
    #: Set by :func:`skip_prompt`: logits (and labels) begin at this position, so the frozen
    #: original model skips the same prompt positions as the model being trained.
    logits_start: int


#: ``finetune(model, dataset, epochs) -> model``: plain fine-tuning, handed to :meth:`Method.setup`.
Finetune = Callable[[object, object, float], object]
RETAIN_LOSSES = ("nll", "kl")

_REGISTRY: dict[str, type["Method"]] = {}


@dataclass
class Method:
    """An unlearning objective ``γ·L_forget + α·L_retain`` (subclasses define ``L_forget``).

    Hyperparameters shared by every method:

    gamma
        weight γ of the forget term.
    alpha
        weight α of the retain term; 0 switches the retain set off.
    retain_loss
        ``"nll"`` (keep answering retain questions) or ``"kl"`` (stay close to
        the original model's next-token distributions on retain data).
    """

    gamma: float = 1.0
    alpha: float = 1.0
    retain_loss: str = "nll"

    name: ClassVar[str] = ""
    #: False when L_forget has no lower bound (gradient ascent): utility can collapse.
    bounded: ClassVar[bool] = True
    #: True when the forget batch must carry ``ref_logp`` = log π_ref(y|x), precomputed once.
    reference_logprobs: ClassVar[bool] = False
    #: True when the method needs no-grad forwards of the original model during training.
    live_reference: ClassVar[bool] = False
    #: True when :meth:`finalize` needs the weights from before training (task arithmetic).
    needs_original: ClassVar[bool] = False
    #: Defaults per model tier (``"tiny"``: below 10M parameters), where the published values
    #: (the dataclass defaults, tuned on 1B-7B models) do not work.  ``unlearn()`` uses them for
    #: every hyperparameter the caller leaves out; ``learning_rate`` may be one of them.
    tier_defaults: ClassVar[dict[str, dict]] = {}
    #: How each tier's defaults were chosen (the sweep that found them), for the log line.
    tier_sweeps: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        if self.retain_loss not in RETAIN_LOSSES:
            raise ValueError(
                f"{self.name}: retain_loss must be one of {RETAIN_LOSSES}, not {self.retain_loss!r}"
            )
        self.check_at_least("alpha", "gamma")

    def check_at_least(self, *names: str, minimum: float = 0.0, strict: bool = False) -> None:
        """Reject hyperparameters that are not finite numbers ≥ ``minimum`` (> with ``strict``).

        A NaN weight would pass a plain ``<`` test and silently switch a term off.
        """
        for key in names:
            value = getattr(self, key)
            ok = isinstance(value, (int, float)) and math.isfinite(value) and \
                (value > minimum if strict else value >= minimum)
            if not ok:
                bound = f"{'>' if strict else '>='} {minimum:g}"
                raise ValueError(f"{self.name}: {key} must be a finite number {bound}, not {value!r}")

    # ----- what training asks a method ---------------------------------------------------
    @property
    def uses_retain(self) -> bool:
        """Whether the retain set enters the loss (α > 0)."""
        return self.alpha > 0

    @property
    def needs_live_reference(self) -> bool:
        """Whether training must run the original model (KL retain term, distillation)."""
        return self.live_reference or (self.uses_retain and self.retain_loss == "kl")

    def hyperparameters(self) -> dict:
        """The method's settings as plain values (for logs and result tables)."""
        out = {}
        for f in fields(self):
            if f.init:
                value = getattr(self, f.name)
                out[f.name] = value if isinstance(value, (int, float, str, bool, type(None), list, tuple)) \
                    else type(value).__name__
        return out

    def setup(self, model, tokenizer, forget, finetune: Finetune) -> "Method":
        """Build what training needs beyond the data (default: nothing); return the method to train.

        Runs once, before training, on the model as it was passed in.
        ``finetune`` trains a model on a dataset with the run's settings.
        """
        return self

    def diagnostics(self, logits: dict[str, torch.Tensor], forget: Batch) -> dict[str, torch.Tensor]:
        """Extra quantities to log next to the loss parts (detached; default none)."""
        return {}

    def prepare_forget(self, forget, retain, seed: int):
        """Rewrite the forget set before tokenisation (relabeling methods override this)."""
        return forget

    def trainable_parameters(self, model) -> list[str] | None:
        """Names of the parameters to train; None trains all of them."""
        return None

    def finalize(self, model, original: dict[str, torch.Tensor]) -> None:
        """Change the weights after training (task arithmetic); ``original`` = weights before."""

    # ----- the loss -----------------------------------------------------------------------
    def compute_loss(self, model, forget: Batch, retain: Batch | None, reference=None):
        """Return ``(loss, parts)``: the total loss and its named parts (detached) for logging.

        ``reference`` is a :class:`~unlearnlab.methods.reference.FrozenOriginal`
        (no-grad outputs of the original model), needed only by methods that
        compare with the original model during training.
        """
        batches = self.streams(forget)
        if self.uses_retain:
            if retain is None:
                raise ValueError(f"{self.name} needs a retain batch (alpha={self.alpha}); pass one or set alpha=0.")
            batches["retain"] = retain
        start = first_scored_position(batches.values())
        logits = joint_logits(model, batches, start)
        forget = skip_prompt(forget, start)
        forget_loss = self.forget_loss(logits, forget, reference)
        loss = self.gamma * forget_loss
        parts = {"forget": forget_loss.detach()}
        with torch.no_grad():
            parts.update(self.diagnostics(logits, forget))
        if self.uses_retain:
            retain_loss = self.retain_term(logits["retain"], skip_prompt(retain, start), reference)
            loss = loss + self.alpha * retain_loss
            parts["retain"] = retain_loss.detach()
        return loss, parts

    def streams(self, forget: Batch) -> dict[str, Batch]:
        """The padded batches this method feeds through the model (DPO adds ``preferred``)."""
        return {"forget": forget}

    def forget_loss(self, logits: dict[str, torch.Tensor], forget: Batch, reference) -> torch.Tensor:
        """L_forget, from the logits of each stream (``logits["forget"]``) aligned with ``forget["labels"]``."""
        raise NotImplementedError(f"{type(self).__name__} must define forget_loss")

    def retain_term(self, logits: torch.Tensor, retain: Batch, reference) -> torch.Tensor:
        """L_retain: answer NLL, or the token-mean KL(p_ref ‖ p_θ), on the retain batch."""
        if self.retain_loss == "nll":
            return mean_nll(logits, retain["labels"])
        require_reference(reference, self.name, "the KL retain term")
        return token_kl(reference.logits(retain), logits, retain["labels"])


# ----- registry ---------------------------------------------------------------------------
def register(cls: type[Method]) -> type[Method]:
    """Class decorator: make a method available to :func:`get_method` under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a class attribute `name` to be registered")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
        # re-running the cell that defines a method replaces it; taking another method's name does not
        raise ValueError(f"a method named {cls.name!r} is already registered ({existing.__qualname__}); "
                         "choose another name")
    _REGISTRY[cls.name] = cls
    return cls


def list_methods() -> list[str]:
    """Names of every registered method, sorted."""
    return sorted(_REGISTRY)


def get_method(name: str | Method, **hyperparameters) -> Method:
    """Build a method from its name and hyperparameters (or copy a given one, overriding some)."""
    if isinstance(name, Method):
        cls, base = type(name), {f.name: getattr(name, f.name) for f in fields(name) if f.init}
    else:
        key = name.strip().lower().replace("-", "_")
        if key not in _REGISTRY:
            raise ValueError(f"unknown method {name!r}{_did_you_mean(key, _REGISTRY)}; "
                             f"known methods: {', '.join(list_methods())}")
        cls, base = _REGISTRY[key], {}
    allowed = [f.name for f in fields(cls) if f.init]
    for key in hyperparameters:
        if key not in allowed:
            raise TypeError(f"{cls.name} has no hyperparameter {key!r}{_did_you_mean(key, allowed)}; "
                            f"its hyperparameters are: {', '.join(allowed)}")
    return cls(**{**base, **hyperparameters})


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ----- one forward pass, logits only where a loss looks ------------------------------------------------
def joint_logits(model, batches: dict[str, Batch], start: int = 0) -> dict[str, torch.Tensor]:
    """Logits of several right-padded batches from one forward pass, from position ``start`` on.

    The batches are padded to a common width and stacked, which costs one
    forward (and one backward) instead of one per batch.  With right padding
    and a causal mask, the extra padding changes no real token's logits.
    Row i of stream k gets ``logits[i, t - start]`` for positions t ≥ start;
    pair them with ``skip_prompt(batch, start)``.
    """
    width = max(b["input_ids"].shape[1] for b in batches.values())
    stacked = {"input_ids": torch.cat([_pad_to(b["input_ids"], width) for b in batches.values()]),
               "attention_mask": torch.cat([_pad_to(b["attention_mask"], width) for b in batches.values()]),
               "logits_start": start}
    logits = forward_logits(model, stacked)
    out, row = {}, 0
    for key, batch in batches.items():
        rows, cols = batch["input_ids"].shape
        out[key] = logits[row:row + rows, :cols - start]
        row += rows
    return out


def forward_logits(model, batch: Batch) -> torch.Tensor:
    """The model's logits for a batch, only from ``batch["logits_start"]`` (default 0) on.

    Prompt positions carry no loss, so skipping them saves the vocabulary
    projection and the softmax there, the largest layer of a small model and
    the largest activation (batch × length × vocabulary) of any model.
    """
    width = batch["input_ids"].shape[1]
    start = batch.get("logits_start", 0)
    kwargs = {"logits_to_keep": width - start} if start else {}
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **kwargs).logits


def first_scored_position(batches) -> int:
    """The first position whose logits any loss reads: the one that predicts the earliest answer token."""
    firsts = []
    for batch in batches:
        scored = (batch["labels"] != IGNORE_INDEX).any(dim=0)
        if scored.any():
            firsts.append(int(scored.nonzero()[0]))
    return max(0, min(firsts) - 1) if firsts else 0


def skip_prompt(batch: Batch, start: int) -> Batch:
    """A view of ``batch`` whose labels line up with logits that start at position ``start``.

    Logits at t predict labels at t + 1, so dropping the first ``start`` columns
    of both keeps every pair.  ``logits_start`` tells the frozen reference to
    skip the same positions.
    """
    view = {key: skip_prompt(value, start) if isinstance(value, dict) else value for key, value in batch.items()}
    view["labels"] = batch["labels"][:, start:]
    view["logits_start"] = start
    return view


def _pad_to(tensor: torch.Tensor, width: int) -> torch.Tensor:
    return F.pad(tensor, (0, width - tensor.shape[1]))  # pad id 0: masked out, never scored


def answer_logprob(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log π(y|x) summed over answer tokens, and the number of answer tokens, per row."""
    nll_sum, n_tokens = sequence_nll(logits, labels)
    return -nll_sum, n_tokens


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over scored positions of −Σ_v q_v log p_θ(v): cross-entropy to soft targets q."""
    per_token = -(target_probs * F.log_softmax(logits, dim=-1)).sum(-1)
    return (per_token * mask).sum() / mask.sum().clamp_min(1)


def token_kl(ref_logits: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over answer positions of KL(p_ref ‖ p_θ) between next-token distributions."""
    ref, _, mask = shift(ref_logits, labels)
    cur = logits[:, :-1].float()
    kl = F.kl_div(F.log_softmax(cur, -1), F.log_softmax(ref, -1), log_target=True, reduction="none").sum(-1)
    return (kl * mask).sum() / mask.sum().clamp_min(1)


def require_reference(reference, method: str, what: str) -> None:
    """Fail clearly when a method that compares with the original model has no reference."""
    if reference is None:
        raise ValueError(
            f"{method} needs the frozen original model for {what}: pass reference=FrozenOriginal(model) "
            "(unlearnlab.methods.reference), or run it through unlearnlab.unlearn(), which builds one."
        )


def reference_logp(batch: Batch, method: str) -> torch.Tensor:
    """The precomputed log π_ref(y|x) column of a batch, or a clear error if it is missing."""
    if "ref_logp" not in batch:
        raise ValueError(
            f"{method} needs log π_ref(y|x) of each answer in the batch (key 'ref_logp'): compute it once "
            "with unlearnlab.methods.reference.add_reference_logprobs(model, dataset) before training, "
            "or use unlearnlab.unlearn(), which does so."
        )
    return batch["ref_logp"]
