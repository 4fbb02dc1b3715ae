"""The settings of one training run, in the ``Trainer``'s own vocabulary.

:class:`UnlearnConfig` *is* a ``TrainingArguments`` (as TRL's configs are), so
every Trainer option (``learning_rate``, ``num_train_epochs``,
``per_device_train_batch_size``, ``gradient_accumulation_steps``,
``activation_checkpointing``, ``report_to``, ...) means what it means elsewhere,
and ``HfArgumentParser`` turns it into a command line.  It adds only what
unlearning needs: a LoRA adapter, an evaluation cadence and a token limit.  A
method's own hyperparameters (β, α, γ, ...) stay on the method.

Some Trainer defaults do not suit unlearning, so they differ here: a constant
learning rate, seed 0, a log line every 10 steps and no checkpoints.  A few
settings left as ``None`` are filled in for the model at hand (:func:`resolve`):
the learning rate (by model size), epochs and batch size (from the profile),
bf16 where the device computes it natively, fp16 with loss scaling on
CUDA GPUs without bf16 (:func:`unlearnlab.devices.mixed_precision`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from transformers import TrainingArguments

from ..config import get_profile
from ..devices import device, mixed_precision
from ..numerics import count_parameters

#: Below this many parameters a model is a from-scratch tiny model and takes larger steps.
SMALL_MODEL_PARAMS = 10_000_000

#: Model tiers, named as in ``Method.tier_defaults``: from-scratch tiny models, and pretrained ones.
TIERS = ("tiny", "large")

#: Settings of earlier versions of the course, and what replaced each (TrainingArguments' names).
RENAMED = {
    "epochs": "epochs is now num_train_epochs (TrainingArguments' name)",
    "batch_size": "batch_size is now per_device_train_batch_size (TrainingArguments' name)",
    "gradient_accumulation": "gradient_accumulation is now gradient_accumulation_steps (TrainingArguments' name)",
    "scheduler": "scheduler is now lr_scheduler_type (TrainingArguments' name)",
    "progress": "progress is now disable_tqdm (TrainingArguments' name; progress=False is disable_tqdm=True)",
    "warmup_ratio": "warmup_ratio is now warmup_steps (TrainingArguments' name; a float below 1 is a ratio)",
    "gradient_checkpointing": "gradient_checkpointing is now activation_checkpointing (TrainingArguments' name)",
    "trainer_args": "trainer_args is gone: pass TrainingArguments fields directly, e.g. save_strategy='steps'",
    "extra": "extra is gone: pass TrainingArguments fields directly, e.g. save_strategy='steps'",
}

#: Settings that must be positive and finite when given (None means "use the default").
POSITIVE = ("learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
            "gradient_accumulation_steps", "max_length")


@dataclass
class UnlearnConfig(TrainingArguments):
    """``TrainingArguments`` for unlearning and fine-tuning, plus LoRA, eval cadence and token limit."""

    # --- TrainingArguments fields whose default depends on the model or the profile (None: resolve()) ---
    learning_rate: float | None = field(default=None, metadata={
        "help": "None: 3e-4 below 10M parameters (tiny from-scratch models), else the profile's "
                "pretrained_unlearn_lr (1e-5)"})
    num_train_epochs: float | None = field(default=None, metadata={"help": "None: the profile's unlearn_epochs"})
    max_steps: int | None = field(default=None, metadata={"help": "optimiser steps; overrides num_train_epochs"})
    per_device_train_batch_size: int | None = field(default=None, metadata={
        "help": "forget examples per device and micro-batch; None: the profile's unlearn_batch_size"})
    bf16: bool | None = field(default=None, metadata={"help": "None: bf16 where the device computes it natively"})
    fp16: bool | None = field(default=None, metadata={
        "help": "None: fp16 mixed precision with loss scaling on CUDA GPUs without bf16 (T4)"})
    use_cpu: bool | None = field(default=None, metadata={
        "help": "None: exactly when unlearnlab.device() is the CPU (UNLEARNLAB_DEVICE=cpu forces it)"})
    # --- TrainingArguments fields with other defaults than the Trainer's ---
    output_dir: str | None = field(default=None, metadata={"help": "None: a temporary folder"})
    seed: int = 0
    lr_scheduler_type: str = "constant"
    logging_steps: float = 10
    save_strategy: str = "no"
    remove_unused_columns: bool = False  # the batches are nested (forget, retain), not model inputs
    ddp_find_unused_parameters: bool | None = False  # every trainable weight gets a gradient each step
    # --- added for unlearning ---
    lora: dict | str | None = field(default=None, metadata={
        "help": "keyword arguments of peft.LoraConfig (a JSON string on the command line), e.g. "
                '{"r": 8, "target_modules": "all-linear"}; None trains the weights themselves'})
    merge_lora: bool = field(default=True, metadata={"help": "return (and save) a plain model, adapter merged"})
    eval_every: int | None = field(default=None, metadata={
        "help": "optimiser steps between eval_fn calls; None: once per epoch"})
    max_length: int = field(default=256, metadata={"help": "tokens per item; longer items are cut"})
    train_layers: list[int] | None = field(default=None, metadata={
        "help": "decoder layers (from 0) whose parameters may train, e.g. [1, 2]; None: all the method trains"})
    saliency: float | None = field(default=None, metadata={
        "help": "train only this fraction of weight entries, those with the largest forget-loss gradient "
                "(SalUn), e.g. 0.1; None: every entry"})

    optimizer: str = field(default="adamw", metadata={
        "help": "adamw (the Trainer's optimiser, chosen by optim) or sophia: SOUL's second-order optimiser, "
                "θ ← θ − η·clip(m / max(γ·h, ε), 1) with h an EMA of Gauss–Newton–Bartlett Hessian-diagonal "
                "estimates (unlearnlab.training.sophia)"})
    sophia_gamma: float = field(default=0.01, metadata={"help": "Sophia's γ: larger means smaller, more often "
                                                                  "unclipped steps"})
    sophia_hessian_every: int = field(default=10, metadata={"help": "optimiser steps between Hessian estimates"})

    _VALID_DICT_FIELDS = [*TrainingArguments._VALID_DICT_FIELDS, "lora"]  # parse JSON strings

    def __post_init__(self) -> None:
        self.scratch_output = self.output_dir is None  # the Trainer would otherwise write to ./trainer_output
        if self.use_cpu is None:  # decided before the Trainer sets up devices and processes
            self.use_cpu = device().type == "cpu"
        super().__post_init__()
        check_settings({f.name: getattr(self, f.name) for f in fields(self) if f.name in POSITIVE})
        check_localisation(self)
        check_optimizer(self)


def check_settings(settings: dict) -> None:
    """Reject a non-positive or non-finite value of a setting that must be positive (None passes)."""
    for key in POSITIVE:
        value = settings.get(key)
        if value is None or (key == "max_steps" and value == -1):  # -1: the Trainer's own "no limit"
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            hint = " (leave it as None to train for num_train_epochs)" if key == "max_steps" else \
                " (leave it as None for the default)"
            raise ValueError(f"{key} must be a positive number, not {value!r}{hint}")


def check_localisation(config: UnlearnConfig) -> None:
    """Refuse restrictions that would not do what they say (see :mod:`unlearnlab.training.masks`)."""
    if config.saliency is not None:
        if isinstance(config.saliency, bool) or not 0 < config.saliency <= 1:
            raise ValueError(f"saliency must be a fraction in (0, 1], e.g. 0.1 for the top 10 % of weights; "
                             f"got {config.saliency!r}")
        if config.weight_decay:
            raise ValueError("saliency masks zero the gradients of the other weights, but weight decay would still "
                             "shrink them; leave weight_decay at 0 with saliency")
    if config.lora and (config.saliency is not None or config.train_layers is not None):
        raise ValueError("saliency and train_layers restrict the model's own weights; with LoRA restrict the "
                         "adapters instead, e.g. lora={'r': 8, 'layers_to_transform': [1, 2]}")


#: The optimisers ``UnlearnConfig.optimizer`` accepts.
OPTIMIZERS = ("adamw", "sophia")


def check_optimizer(config: UnlearnConfig) -> None:
    """Refuse an unknown optimiser name or Sophia settings that cannot work."""
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {config.optimizer!r} (for other Trainer "
                         "optimisers, leave optimizer='adamw' and set optim)")
    if config.optimizer == "sophia" and (not config.sophia_gamma > 0 or int(config.sophia_hessian_every) < 1):
        raise ValueError(f"sophia_gamma must be positive and sophia_hessian_every at least 1; got "
                         f"{config.sophia_gamma!r} and {config.sophia_hessian_every!r}")


def resolve(config: UnlearnConfig, model, output_dir: str | None = None) -> UnlearnConfig:
    """A copy of ``config`` with every ``None`` default filled in for ``model`` and the active profile."""
    profile = get_profile()
    precision = mixed_precision(device())
    defaults = {
        "learning_rate": default_learning_rate(model),
        "num_train_epochs": profile.unlearn_epochs,
        "max_steps": -1,  # the Trainer's "no limit": train for num_train_epochs
        "per_device_train_batch_size": profile.unlearn_batch_size,
        "bf16": precision == "bf16" and not config.fp16,
        "fp16": precision == "fp16" and not config.bf16,
        "output_dir": output_dir,
    }
    return with_settings(config, **{key: value for key, value in defaults.items() if getattr(config, key) is None
                                    or (key == "output_dir" and config.scratch_output)})


def with_settings(config: UnlearnConfig, **changes) -> UnlearnConfig:
    """A new config: ``config`` with some fields changed (its temporary output folder stays temporary)."""
    values = {f.name: getattr(config, f.name) for f in fields(config) if f.init}
    if config.scratch_output:
        values["output_dir"] = None
    return type(config)(**{**values, **changes})


def default_learning_rate(model) -> float:
    """3e-4 for tiny from-scratch models (trained at 3e-3 to 5e-3), else the profile's ``pretrained_unlearn_lr``.

    That is 1e-5 in every profile, TOFU's and open-unlearning's rate for 1B-7B models.

    On the ci-profile authors world, 3e-4 for 5 epochs lets NPO forget most of
    forget10 while keeping most retain answers and GradDiff about half of them
    (the quickstart's figures); 1e-3 makes GradDiff lose most of the retain set too.
    """
    return 3e-4 if model_tier(model) == "tiny" else get_profile().pretrained_unlearn_lr


def model_tier(model) -> str:
    """``"tiny"`` below :data:`SMALL_MODEL_PARAMS` parameters (trained from scratch here), else ``"large"``.

    A method's published hyperparameters were tuned on 1B-7B models; the tier
    says whether they apply or whether a method's tiny-tier defaults do.
    """
    return "tiny" if count_parameters(model) < SMALL_MODEL_PARAMS else "large"


def plain(value):
    """A JSON-friendly form of a setting (LoraConfig objects become dicts of plain values)."""
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in (sorted(value, key=str) if isinstance(value, set) else value)]
    if hasattr(value, "to_dict"):
        return plain(value.to_dict())
    return str(value)
