"""Fine-tuning with the loss on answer tokens only, through the Hugging Face ``Trainer``.

Two calls of :func:`finetune` make the two models every experiment needs: the
*target* (trained on the whole world) and the *retain-only reference* (trained
the same way without the forget authors), which is exact unlearning by
retraining.  Using ``Trainer`` gives learners the progress bars, bf16,
gradient checkpointing and LoRA (through peft) they will meet elsewhere.
"""
from __future__ import annotations

import math
import tempfile
from dataclasses import asdict, dataclass, field

import datasets
import torch
from transformers import Trainer, TrainingArguments

from .formats import QACollator, tokenize_qa
from .devices import device, dtype_for


@dataclass
class FinetuneArgs:
    """Hyper-parameters of one fine-tuning run (defaults suit a pretrained model)."""

    epochs: float = 5
    learning_rate: float = 1e-5
    batch_size: int = 16
    gradient_accumulation: int = 1
    warmup_ratio: float = 0.05
    weight_decay: float = 0.01
    scheduler: str = "cosine"
    seed: int = 0
    max_length: int = 256
    gradient_checkpointing: bool = False
    lora: dict | None = None  # keyword arguments of peft.LoraConfig, e.g. {"r": 8}
    merge_lora: bool = True  # return a plain model with the adapter merged in
    bf16: bool | None = None  # None: bf16 exactly when the device supports it
    logging_steps: int = 10
    progress: bool = True
    extra: dict = field(default_factory=dict)  # any other TrainingArguments field

    def as_dict(self) -> dict:
        return asdict(self)


def finetune(model, tokenizer, dataset, args: FinetuneArgs | None = None, **overrides):
    """Train ``model`` on QA items (``question``/``answer`` columns) and return it with its log.

    ``dataset`` is a ``datasets.Dataset`` or a list of dicts.

    Returns ``(model, history)`` where ``history`` is the Trainer's list of logged
    dicts (loss, learning rate, epoch per logging step).
    """
    args = _merge(args, overrides)
    if isinstance(dataset, list):
        dataset = datasets.Dataset.from_list(dataset)
    if len(dataset) == 0:
        raise ValueError("finetune() got an empty dataset; pass at least one question–answer item.")
    encoded = tokenize_qa(dataset, tokenizer, max_length=args.max_length)
    model = _maybe_add_lora(model, args)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    with tempfile.TemporaryDirectory(prefix="unlearnlab-train-") as out:
        trainer = Trainer(
            model=model,
            args=_training_arguments(args, out),
            train_dataset=encoded,
            data_collator=QACollator(tokenizer),
        )
        trainer.train()
        history = list(trainer.state.log_history)
    _check_finite(history)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_disable()
        model.config.use_cache = True
    if args.lora and args.merge_lora:
        model = model.merge_and_unload()
    model.eval()
    return model, history


def _merge(args: FinetuneArgs | None, overrides: dict) -> FinetuneArgs:
    args = args or FinetuneArgs()
    unknown = set(overrides) - set(FinetuneArgs.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown finetune argument(s) {sorted(unknown)}; see FinetuneArgs for the list")
    return FinetuneArgs(**{**args.as_dict(), **overrides})


def _maybe_add_lora(model, args: FinetuneArgs):
    if not args.lora:
        return model
    from peft import LoraConfig, get_peft_model

    config = dict(args.lora)
    config.setdefault("task_type", "CAUSAL_LM")
    return get_peft_model(model, LoraConfig(**config))


def _training_arguments(args: FinetuneArgs, out: str) -> TrainingArguments:
    bf16 = args.bf16 if args.bf16 is not None else dtype_for(device()) == torch.bfloat16
    return TrainingArguments(
        output_dir=out,
        num_train_epochs=args.epochs,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.gradient_accumulation,
        warmup_steps=args.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio
        weight_decay=args.weight_decay,
        lr_scheduler_type=args.scheduler,
        seed=args.seed,
        data_seed=args.seed,
        bf16=bf16,
        logging_steps=args.logging_steps,
        save_strategy="no",
        report_to="none",
        disable_tqdm=not args.progress,
        dataloader_num_workers=0,
        dataloader_pin_memory=device().type == "cuda",
        remove_unused_columns=False,
        **args.extra,
    )


def _check_finite(history: list[dict]) -> None:
    """Stop with advice if training diverged (a NaN model would poison every later result)."""
    for entry in history:
        loss = entry.get("loss")
        if loss is not None and not math.isfinite(loss):
            raise FloatingPointError(
                f"fine-tuning loss became {loss} at step {entry.get('step')}; lower the learning "
                "rate, or use fp32 instead of bf16."
            )
