"""The unlearning engine: run any registered method through the Hugging Face ``Trainer``.

    model, log = unlearn(model, tokenizer, method="npo", forget=forget, retain=retain)

What the engine adds around a method's loss:

* **Data.** The forget set is tokenised with the course's prompt format; an
  epoch is one pass over it, and each forget example is paired with a retain
  example drawn at random (seeded), as TOFU and open-unlearning do.  Both go
  through the model in one forward pass.
* **The frozen original model.** log π_ref of the forget answers is
  precomputed once (NPO, DPO); methods that need the original model's outputs
  on changing inputs get a :class:`~unlearnlab.methods.reference.FrozenReference`
  (adapter switched off under LoRA, otherwise a copy of the trainable weights only).
* **Guards.** Empty forget set, missing retain set, forget/retain overlap,
  unbounded gradient ascent, and NaN or infinite losses.
* **A log.** Per-step losses and their named parts, optional evaluations every
  N steps (``eval_fn(model) -> dict``), wall time and peak memory.

Everything else (AdamW, schedules, bf16, gradient accumulation and
checkpointing, LoRA through peft, progress bars, checkpoints, and several GPUs
with ``accelerate launch``) is the ``Trainer``'s, so it behaves as learners
will find it elsewhere.  The model is trained in place; pass a copy
(``copy.deepcopy(model)``) to keep the original.
"""
from __future__ import annotations

import copy
import difflib
import math
import os
import random
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Callable, Iterator

import datasets
import torch
from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments, set_seed

from .config import get_profile
from .formats import encode_qa, encode_text, pad_batch
from .devices import device, dtype_for, peak_memory_mb, reset_peak_memory
from .methods import Method, get_method
from .methods.arithmetic import WhoIsHarryPotter
from .methods.reference import FrozenReference, add_reference_logprobs, snapshot_trainable

#: Below this many parameters a model is a from-scratch tiny model and takes larger steps.
SMALL_MODEL_PARAMS = 10_000_000

EvalFn = Callable[[Any], dict[str, float]]


@dataclass
class UnlearnArgs:
    """Engine settings (the method's own hyperparameters live on the method)."""

    learning_rate: float | None = None  # None: default_learning_rate(model)
    epochs: float | None = None  # None: the profile's unlearn_epochs
    max_steps: int | None = None  # optimiser steps; overrides epochs when set
    batch_size: int | None = None  # forget examples per device and step; None: profile's unlearn_batch_size
    gradient_accumulation: int = 1
    seed: int = 0
    max_length: int = 256
    lora: Any = None  # None, a peft.LoraConfig, or LoraConfig keyword arguments as a dict
    merge_lora: bool = True  # return a plain model with the adapter merged in
    gradient_checkpointing: bool = False
    bf16: bool | None = None  # None: bf16 exactly when the device computes it natively
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    scheduler: str = "constant"
    eval_every: int | None = None  # steps between eval_fn calls; None: once per epoch
    save_dir: str | None = None  # save the result there with Trainer.save_model (gathers sharded weights)
    logging_steps: int = 10
    progress: bool = True
    # any other TrainingArguments field, e.g. checkpoints: {"output_dir": "ckpt", "save_strategy": "steps"}
    trainer_args: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = asdict(replace(self, lora=None))
        out["lora"] = _plain(self.lora)
        return out


@dataclass
class UnlearnLog:
    """What happened during one unlearning run; ``to_dict()`` gives plain JSON-able values."""

    method: str
    hyperparameters: dict
    n_forget: int
    n_retain: int
    device: str
    n_params: int
    steps: list[dict] = field(default_factory=list)  # step, epoch, loss, named parts, tokens, time_s
    evals: list[dict] = field(default_factory=list)  # step and the eval_fn results
    wall_time_s: float = 0.0
    peak_memory_mb: float = 0.0
    reference_tokens: int = 0  # tokens run through the frozen original model (precomputed or live)

    @property
    def tokens(self) -> int:
        """Real (unpadded) tokens that went through the trained model's forward and backward passes."""
        return sum(step["tokens"] for step in self.steps)

    @property
    def flops(self) -> float:
        """Estimated compute: 6·N per trained token plus 2·N per reference token (Kaplan et al., 2020).

        Not counted: Who's Harry Potter's reinforced model (its own descent run and forwards).
        """
        return 6.0 * self.n_params * self.tokens + 2.0 * self.n_params * self.reference_tokens

    def series(self, key: str = "loss") -> list[float]:
        """One logged quantity over the optimiser steps, e.g. ``log.series("forget")``."""
        return [step[key] for step in self.steps if key in step]

    def to_dict(self) -> dict:
        return {**asdict(self), "tokens": self.tokens, "flops": self.flops}


def unlearn(model, tokenizer, method: str | Method = "npo", forget=None, retain=None, *,
            eval_fn: EvalFn | None = None, args: UnlearnArgs | None = None, **settings):
    """Unlearn ``forget`` from ``model`` with a registered method; returns ``(model, log)``.

    ``forget`` and ``retain`` are ``datasets.Dataset`` (or lists of dicts) of
    QA items (``question``/``answer``) or text items (``text``).  ``settings``
    are :class:`UnlearnArgs` fields (``learning_rate``, ``epochs``,
    ``max_steps``, ``batch_size``, ``seed``, ``lora``, ...) and the method's
    hyperparameters (``beta``, ``alpha``, ``gamma``, ...).  ``eval_fn(model)``
    returning ``{name: float}`` is run before training, every ``eval_every``
    steps and at the end; its results are in ``log.evals``.
    """
    started = time.perf_counter()
    args, method = split_settings(method, args, settings)
    forget, retain = _as_dataset(forget), _as_dataset(retain)
    check_inputs(method, forget, retain)
    check_sharding(method, args)
    args = resolve_defaults(args, model)
    dev = training_device()
    model.to(dev)
    if isinstance(method, WhoIsHarryPotter) and method.reinforced is None:
        method = replace(method, reinforced=build_reinforced(model, tokenizer, forget, method, args))
    reset_peak_memory(dev)
    set_seed(args.seed)

    forget_items, retain_items, reference_tokens = prepare_items(model, tokenizer, method, forget, retain, args)
    model = attach_lora(model, args.lora)
    log = UnlearnLog(method=method.name, hyperparameters={**args.as_dict(), **method.hyperparameters()},
                     n_forget=len(forget_items), n_retain=len(retain_items or []),
                     device=str(dev), n_params=sum(p.numel() for p in model.parameters()))
    pairs = ForgetRetainPairs(forget_items, retain_items, seed=args.seed)
    log.reference_tokens = reference_tokens + train(model, tokenizer, method, pairs, args, log, eval_fn)
    if args.lora and args.merge_lora:
        model = model.merge_and_unload()
    log.wall_time_s = time.perf_counter() - started
    log.peak_memory_mb = peak_memory_mb(dev)
    return model.eval(), log


# ----- settings and guards -------------------------------------------------------------------
def split_settings(method: str | Method, args: UnlearnArgs | None, settings: dict) -> tuple[UnlearnArgs, Method]:
    """Route keyword settings to the engine (UnlearnArgs) or to the method's hyperparameters."""
    engine_keys = {f.name for f in fields(UnlearnArgs)}
    probe = get_method(method)
    method_keys = {f.name for f in fields(probe) if f.init}
    unknown = set(settings) - engine_keys - method_keys
    if unknown:
        key = sorted(unknown)[0]
        close = difflib.get_close_matches(key, engine_keys | method_keys, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TypeError(f"unlearn() got an unknown setting {key!r}{hint}. {probe.name} hyperparameters: "
                        f"{', '.join(sorted(method_keys))}; engine settings: {', '.join(sorted(engine_keys))}")
    engine = {k: v for k, v in settings.items() if k in engine_keys}
    args = replace(args or UnlearnArgs(), **engine)
    return args, get_method(probe, **{k: v for k, v in settings.items() if k not in engine_keys})


def check_inputs(method: Method, forget, retain) -> None:
    """Fail early with advice on inputs that cannot work; warn on inputs that probably will not."""
    if forget is None or len(forget) == 0:
        raise ValueError("unlearn() needs a non-empty forget set: pass forget=<datasets.Dataset with "
                         "'question'/'answer' (or 'text') columns>, e.g. world.split('forget10').")
    if method.uses_retain and (retain is None or len(retain) == 0):
        raise ValueError(f"{method.name} has a retain term (alpha={method.alpha}) but no retain set was given: "
                         f"pass retain=<Dataset>, e.g. world.split('retain90'), or set alpha=0.")
    if not method.bounded and not method.uses_retain:
        warnings.warn(f"{method.name} maximises the forget loss with no bound and no retain term: model utility "
                      "will collapse if it runs long. Keep max_steps small, add a retain term (graddiff, kl), "
                      "or use a bounded method (npo, simnpo).", stacklevel=3)
    if retain is not None and method.uses_retain:
        shared = _keys(forget) & _keys(retain)
        if shared:
            warnings.warn(f"{len(shared)} forget item(s) also appear in the retain set (same question and "
                          f"answer), e.g. {sorted(shared)[0]!r}: the forget and retain terms pull them in "
                          "opposite directions. Remove them from the retain set.", stacklevel=3)


def check_sharding(method: Method, args: UnlearnArgs) -> None:
    """Refuse what needs the original weights whole while FSDP or DeepSpeed shards them.

    A live reference (KL, UNDIAL, RMU, WHP) and task arithmetic read the
    original weights next to the trained ones; with LoRA the original model is
    the adapter-free base, so they work; without it, use a method whose
    reference is precomputed (npo, dpo, simnpo, graddiff, ...).
    """
    sharded = any(os.environ.get(f"ACCELERATE_USE_{kind}", "").lower() in ("1", "true")
                  for kind in ("FSDP", "DEEPSPEED"))
    if sharded and not args.lora and (method.needs_live_reference or method.needs_original):
        raise ValueError(f"{method.name} needs the original weights during or after training, which FSDP or "
                         "DeepSpeed shard: add a LoRA adapter (lora={...}), or pick a method with a "
                         "precomputed reference (npo, dpo, simnpo, graddiff, wga, idk, ga).")


def _keys(dataset) -> set[tuple]:
    if {"question", "answer"} <= set(dataset.column_names):
        return set(zip(dataset["question"], dataset["answer"]))
    return set(dataset["text"]) if "text" in dataset.column_names else set()


def resolve_defaults(args: UnlearnArgs, model) -> UnlearnArgs:
    """Fill the settings left as None from the profile and the model's size."""
    profile = get_profile()
    return replace(
        args,
        learning_rate=args.learning_rate or default_learning_rate(model),
        epochs=args.epochs if args.epochs is not None else profile.unlearn_epochs,
        batch_size=args.batch_size or profile.unlearn_batch_size,
    )


def default_learning_rate(model) -> float:
    """3e-4 for tiny from-scratch models (trained at 3e-3 to 5e-3), else 1e-5 (TOFU's rate for 7B models).

    On the ci-profile authors world, 3e-4 for 5 epochs lets NPO forget most of
    forget10 while keeping most retain answers and GradDiff about half of them
    (the quickstart's figures); 1e-3 makes GradDiff lose most of the retain set too.
    """
    n_params = sum(p.numel() for p in model.parameters())
    return 3e-4 if n_params < SMALL_MODEL_PARAMS else 1e-5


def training_device() -> torch.device:
    """This process's device: under ``accelerate launch`` or ``torchrun``, GPU number ``LOCAL_RANK``."""
    dev = device()
    if dev.type == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return dev


def _use_bf16(args: UnlearnArgs) -> bool:
    return args.bf16 if args.bf16 is not None else dtype_for(device()) == torch.bfloat16


def _as_dataset(data):
    return datasets.Dataset.from_list(list(data)) if isinstance(data, (list, tuple)) else data


def _plain(value):
    """A JSON-friendly form of a setting (LoraConfig objects become dicts of plain values)."""
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in (sorted(value, key=str) if isinstance(value, set) else value)]
    if hasattr(value, "to_dict"):
        return _plain(value.to_dict())
    return str(value)


# ----- data ------------------------------------------------------------------------------------
def prepare_items(model, tokenizer, method: Method, forget, retain, args: UnlearnArgs):
    """Relabel and tokenise both sets; add log π_ref to forget items when the method needs it.

    Returns ``(forget_items, retain_items or None, tokens run through the reference)``.
    """
    forget = method.prepare_forget(forget, retain, args.seed)
    forget_items = encode_items(forget, tokenizer, args.max_length)
    retain_items = encode_items(retain, tokenizer, args.max_length) if method.uses_retain else None
    if not method.reference_logprobs:
        return forget_items, retain_items, 0
    add_reference_logprobs(model, forget_items, pad_id(tokenizer), batch_size=2 * args.batch_size,
                           autocast_dtype=torch.bfloat16 if _use_bf16(args) else None)
    rows = forget_items + [item["preferred"] for item in forget_items if "preferred" in item]
    return forget_items, retain_items, sum(len(row["input_ids"]) for row in rows)


def pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def encode_items(dataset, tokenizer, max_length: int = 256) -> list[dict]:
    """Token ids and labels of every item (QA, or plain ``text`` for corpus worlds).

    A ``preferred_answer`` column (DPO's refusal) becomes a second encoding of
    the same question under the key ``preferred``.
    """
    columns = set(dataset.column_names)
    if {"question", "answer"} <= columns:
        items = []
        for row in dataset:
            item = encode_qa(tokenizer, row["question"], row["answer"], max_length)
            if "preferred_answer" in columns:
                item["preferred"] = encode_qa(tokenizer, row["question"], row["preferred_answer"], max_length)
            items.append(item)
        return items
    if "text" in columns:
        return [encode_text(tokenizer, row["text"], max_length) for row in dataset]
    raise ValueError(f"items need 'question' and 'answer' columns, or a 'text' column; got {sorted(columns)}")


class ForgetRetainPairs(torch.utils.data.Dataset):
    """Item i: forget example i, plus a retain example drawn at random (seeded) when there is a retain set.

    An epoch is one pass over the forget set, however large the retain set is.
    """

    def __init__(self, forget_items: list[dict], retain_items: list[dict] | None = None, seed: int = 0):
        self.forget, self.retain = forget_items, retain_items
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.forget)

    def __getitem__(self, index: int) -> dict:
        item = {"forget": self.forget[index]}
        if self.retain:
            item["retain"] = self.retain[self.rng.randrange(len(self.retain))]
        return item


class PairCollator:
    """Right-pad each stream (forget, its ``preferred`` answers, retain) into its own tensors."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict]) -> dict[str, dict[str, torch.Tensor]]:
        return {stream: self._pad([f[stream] for f in features]) for stream in features[0]}

    def _pad(self, rows: list[dict]) -> dict:
        nested = [key for key, value in rows[0].items() if isinstance(value, dict)]
        batch = pad_batch([{k: v for k, v in row.items() if k not in nested} for row in rows], self.pad_token_id)
        for key in nested:
            batch[key] = pad_batch([row[key] for row in rows], self.pad_token_id)
        return batch


# ----- model preparation ------------------------------------------------------------------------
def attach_lora(model, lora):
    """Wrap ``model`` with a LoRA adapter (peft) when ``lora`` is a LoraConfig or its keyword dict."""
    if lora is None:
        return model
    from peft import LoraConfig, get_peft_model

    config = lora if isinstance(lora, LoraConfig) else LoraConfig(**{"task_type": "CAUSAL_LM", **lora})
    return get_peft_model(model, config)


@contextmanager
def train_only(model, names: list[str] | None):
    """Freeze every parameter not in ``names`` for the duration (None: leave all as they are)."""
    if names is None:
        yield
        return
    before = {name: p.requires_grad for name, p in model.named_parameters()}
    chosen = set(names)
    for name, param in model.named_parameters():
        param.requires_grad_(name in chosen)
    try:
        yield
    finally:
        for name, param in model.named_parameters():
            param.requires_grad_(before[name])


def build_reinforced(model, tokenizer, forget, method: Method, args: UnlearnArgs):
    """The target fine-tuned further on the forget set (with ``descent``), frozen."""
    reinforced, _ = unlearn(copy.deepcopy(model), tokenizer, "descent", forget,
                            args=replace(args, epochs=method.reinforce_epochs, max_steps=None, lora=None))
    return reinforced.eval().requires_grad_(False)


# ----- the Trainer --------------------------------------------------------------------------------
def train(model, tokenizer, method: Method, pairs: ForgetRetainPairs, args: UnlearnArgs, log: UnlearnLog,
          eval_fn: EvalFn | None) -> int:
    """Run the Trainer on the method's parameters, then apply the method's final step.

    Returns the number of tokens the live frozen reference processed (0 without one).
    """
    trainable = None if args.lora else method.trainable_parameters(model)
    with train_only(model, trainable):
        reference = FrozenReference(model) if method.needs_live_reference else None
        original = snapshot_trainable(model) if method.needs_original else None
        with scratch_dir(args) as folder:
            trainer = build_trainer(model, tokenizer, method, reference, pairs, args, log, eval_fn, folder)
            trainer.train()
    if original is not None:
        method.finalize(model, original)
    if args.save_dir:
        trainer.save_model(args.save_dir)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_disable()
    return reference.tokens if reference is not None else 0


class UnlearnTrainer(Trainer):
    """A ``Trainer`` whose loss is an unlearning method's ``compute_loss``."""

    def __init__(self, *args, method: Method, reference: FrozenReference | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.method = method
        self.reference = reference
        self.micro_parts: list[dict[str, torch.Tensor]] = []  # one entry per micro-batch of this step

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, parts = self.method.compute_loss(model, inputs["forget"], inputs.get("retain"), self.reference)
        self.micro_parts.append({"loss": loss.detach(), **parts, "tokens": _real_tokens(inputs)})
        return (loss, None) if return_outputs else loss


def _real_tokens(inputs: dict) -> torch.Tensor:
    """Unpadded tokens of every stream of a batch (forget, its preferred answers, retain)."""
    streams = [inputs["forget"], inputs.get("retain"), inputs["forget"].get("preferred")]
    return sum(s["attention_mask"].sum() for s in streams if s is not None)


class StepRecorder(TrainerCallback):
    """Append each optimiser step's mean losses to the log, and stop on NaN or inf."""

    def __init__(self, trainer: UnlearnTrainer, log: UnlearnLog):
        self.trainer, self.log = trainer, log
        self.started = time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        parts = self.trainer.micro_parts
        self.trainer.micro_parts = []
        tokens = int(sum(p.pop("tokens") for p in parts))
        means = {key: torch.stack([p[key] for p in parts]).float().mean().item() for key in parts[0]}
        if not all(math.isfinite(v) for v in means.values()):
            raise FloatingPointError(
                f"{self.trainer.method.name}: the loss became non-finite at step {state.global_step} ({means}); "
                f"the weights are no longer usable, reload the model. Lower the learning rate "
                f"(it was {args.learning_rate}), train in fp32 instead of bf16, or, for unbounded methods such "
                "as ga, add a retain term or switch to a bounded method (npo, simnpo).")
        self.log.steps.append({"step": state.global_step, "epoch": state.epoch, **means, "tokens": tokens,
                               "time_s": time.perf_counter() - self.started})


class EvalRecorder(TrainerCallback):
    """Run ``fn(model) -> {name: float}`` before training, every ``every`` steps and at the end."""

    def __init__(self, fn: EvalFn, every: int, log: UnlearnLog):
        self.fn, self.every, self.log = fn, max(1, every), log

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._run(model, 0)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every == 0:
            self._run(model, state.global_step)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if self.log.evals[-1]["step"] != state.global_step:
            self._run(model, state.global_step)

    def _run(self, model, step: int) -> None:
        was_training = model.training
        model.eval()
        results = self.fn(model)
        model.train(was_training)
        self.log.evals.append({"step": step, **{name: float(value) for name, value in results.items()}})


@contextmanager
def scratch_dir(args: UnlearnArgs) -> Iterator[str]:
    """The Trainer's output folder: ``trainer_args["output_dir"]`` if given, else a temporary one."""
    if "output_dir" in args.trainer_args:
        yield args.trainer_args["output_dir"]
        return
    with tempfile.TemporaryDirectory(prefix="unlearnlab-unlearn-") as folder:
        yield folder


def training_arguments(args: UnlearnArgs, output_dir: str) -> TrainingArguments:
    """The Trainer's settings (``trainer_args`` overrides any of them, e.g. to save checkpoints)."""
    settings = dict(
        output_dir=output_dir,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps or -1,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.gradient_accumulation,
        lr_scheduler_type=args.scheduler,
        warmup_steps=args.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio
        weight_decay=args.weight_decay,
        seed=args.seed,
        data_seed=args.seed,
        bf16=_use_bf16(args),
        activation_checkpointing=args.gradient_checkpointing,
        logging_steps=args.logging_steps,
        save_strategy="no",
        report_to="none",
        disable_tqdm=not args.progress,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        ddp_find_unused_parameters=False,  # every trainable weight gets a gradient each step
        use_cpu=device().type == "cpu",
    )
    return TrainingArguments(**{**settings, **args.trainer_args})


def build_trainer(model, tokenizer, method: Method, reference, pairs: ForgetRetainPairs, args: UnlearnArgs,
                  log: UnlearnLog, eval_fn: EvalFn | None, output_dir: str) -> UnlearnTrainer:
    """An ``UnlearnTrainer`` that records per-step losses (and evaluations) in ``log``."""
    if args.lora and args.gradient_checkpointing:
        model.enable_input_require_grads()  # checkpointed blocks need an input that requires grad
    trainer = UnlearnTrainer(model=model, args=training_arguments(args, output_dir), train_dataset=pairs,
                             data_collator=PairCollator(pad_id(tokenizer)), processing_class=tokenizer,
                             method=method, reference=reference)
    if not args.progress:
        trainer.remove_callback(PrinterCallback)
    trainer.add_callback(StepRecorder(trainer, log))
    if eval_fn is not None:
        per_epoch = math.ceil(len(pairs) / (args.batch_size * args.gradient_accumulation))
        trainer.add_callback(EvalRecorder(eval_fn, args.eval_every or per_epoch, log))
    return trainer
