"""``unlearn()``: run any registered method through the Hugging Face ``Trainer``; ``finetune()`` is its ``descent``.

    unlearned, log = unlearn(target, tokenizer, "npo", forget, retain, learning_rate=1e-4, num_train_epochs=5)

What this adds around a method's loss:

* **Data.** Both sets are encoded with ``Dataset.map`` (the course's prompt
  format); an epoch is one pass over the forget set, each forget item paired
  with a retain item (:mod:`.pairs`); both go through the model in one forward pass.
* **The original model.** log π_ref of the forget answers is a precomputed
  column (NPO, DPO); methods that need the original model's outputs on changing
  inputs get a :class:`~unlearnlab.methods.reference.FrozenOriginal`.
* **Guards.** Inputs, settings and tokenizer are checked before anything
  trains (:mod:`.checks`); a NaN or infinite loss stops every process.
* **A log.** Per-step loss parts, optional evaluations every N steps
  (``eval_fn(model) -> dict``), tokens, FLOPs, wall time and peak memory.

**The model passed in is not changed** (``inplace=False``): ``unlearn`` trains a
copy, so running a notebook cell twice starts from the same target both times.
For a model too large to hold twice, pass ``inplace=True``; then the model
passed in *is* trained, and unlearning it again compounds (a warning says so).
"""
from __future__ import annotations

import copy
import difflib
import logging
import os
import shutil
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import torch
from transformers import PrinterCallback, set_seed

from ..cache import cache_dir
from ..devices import device, peak_memory_mb, reset_peak_memory
from ..formats import encode_dataset
from ..methods import Method, get_method
from ..methods.reference import FrozenOriginal, add_reference_logprobs, snapshot_trainable
from ..numerics import count_parameters, pad_id
from .checks import as_dataset, check_inputs, check_sharding, check_tokenizer
from .config import RENAMED, UnlearnConfig, check_settings, model_tier, plain, resolve, with_settings
from .masks import forget_gradients, layer_parameters, masked_gradients, saliency_masks
from .pairs import ForgetRetainPairs, PairCollator
from .trainer import EpochPairs, EvalFn, EvalRecorder, StepRecorder, UnlearnLog, UnlearnTrainer

logger = logging.getLogger(__name__)

#: The attribute that marks a model as already unlearned (the names of the methods, in order).
UNLEARNED_BY = "unlearnlab_unlearned_by"


def unlearn(model, tokenizer, method: str | Method = "npo", forget=None, retain=None, *,
            args: UnlearnConfig | None = None, eval_fn: EvalFn | None = None, world=None,
            inplace: bool = False, save_dir: str | os.PathLike | None = None, overwrite: bool = False,
            **settings):
    """Unlearn ``forget`` from ``model`` with a registered method; returns ``(unlearned model, log)``.

    ``forget`` and ``retain`` are ``datasets.Dataset`` of QA items
    (``question``/``answer``) or text items (``text``); a list of dicts, a dict
    of columns, a pandas DataFrame, or a split name with ``world=`` work too.
    ``settings`` are :class:`UnlearnConfig` fields (``TrainingArguments`` names:
    ``learning_rate``, ``num_train_epochs``, ``max_steps``,
    ``per_device_train_batch_size``, ``seed``, ``lora``, ...) and the method's
    hyperparameters (``beta``, ``alpha``, ``gamma``, ...); ``args`` is a whole
    :class:`UnlearnConfig` (``settings`` override it).  ``eval_fn(model)``
    returning ``{name: float}`` runs before training, every ``eval_every``
    steps and at the end; its results are in ``log.evals``.

    Hyperparameters left out take the method's defaults for the model's tier
    where it declares some (:func:`with_tier_defaults`: on a tiny model, RMU's
    published c = 6.5 changes nothing), else its published ones.

    The model passed in is left as it is and a trained copy is returned;
    ``inplace=True`` trains the model itself (for models too large to copy).
    ``save_dir`` receives the result as an ordinary checkpoint (LoRA merged
    in); an existing folder is replaced only with ``overwrite=True``.
    """
    started = time.perf_counter()
    explicit = set(settings) | (set(method.hyperparameters()) if isinstance(method, Method) else set())
    config, method = with_tier_defaults(*split_settings(method, args, settings), explicit, model)
    forget, retain = as_dataset(forget, "forget", world), as_dataset(retain, "retain", world)
    check_inputs(method, forget, retain)
    check_tokenizer(model, tokenizer)
    check_sharding(method, config.lora)
    save_path = check_save_dir(save_dir, overwrite)
    warn_if_unlearned_before(model, method, inplace)
    model = model if inplace else copy.deepcopy(model)
    dev = training_device()
    model.to(dev)
    with scratch_folder() as scratch:
        config = resolve(config, model, scratch)
        method = method.setup(model, tokenizer, forget, reinforcer(tokenizer, config))
        reset_peak_memory(dev)
        set_seed(config.seed)
        forget_data, retain_data, reference_tokens = prepare_data(model, tokenizer, method, forget, retain, config)
        model = attach_lora(model, lora_for(method, model, config.lora))
        log = UnlearnLog(method=method.name, hyperparameters={**settings_dict(config), **method.hyperparameters()},
                         n_forget=len(forget_data), n_retain=len(retain_data or []),
                         device=str(dev), n_params=count_parameters(model))
        pairs = ForgetRetainPairs(forget_data, retain_data, seed=config.seed)
        logger.info("%s on %d forget and %d retain items, %s", method.name, log.n_forget, log.n_retain,
                    {key: log.hyperparameters[key] for key in ("learning_rate", "num_train_epochs", "max_steps")})
        true_forget = encode_dataset(forget, tokenizer, config.max_length) if config.saliency is not None else None
        trainer, live_tokens = train(model, tokenizer, method, pairs, config, log, eval_fn, true_forget)
    log.reference_tokens = reference_tokens + live_tokens
    log.history = list(trainer.state.log_history)
    if config.lora and config.merge_lora:
        model = model.merge_and_unload()
    if save_path is not None:
        save(trainer, model, tokenizer, save_path, merged=bool(config.lora and config.merge_lora))
    if method.name != "descent":  # fine-tuning is not unlearning
        setattr(model, UNLEARNED_BY, [*getattr(model, UNLEARNED_BY, []), method.name])
    log.wall_time_s = time.perf_counter() - started
    log.peak_memory_mb = peak_memory_mb(dev)
    return model.eval(), log


def finetune(model, tokenizer, dataset, args: UnlearnConfig | None = None, **settings):
    """Fine-tune on QA (or text) items: the ``descent`` method (answer NLL) through :func:`unlearn`.

    The target and the retrained model of :mod:`unlearnlab.models` are made this way.
    Returns ``(model, log)``; ``log.history`` is the Trainer's log.
    """
    return unlearn(model, tokenizer, "descent", dataset, args=args, **settings)


# ----- settings --------------------------------------------------------------------------------
def split_settings(method: str | Method, args: UnlearnConfig | None, settings: dict) -> tuple[UnlearnConfig, Method]:
    """Route keyword settings to the run's config (TrainingArguments names) or to the method."""
    renamed = sorted(set(settings) & set(RENAMED))
    if renamed:
        raise TypeError(RENAMED[renamed[0]])
    config_keys = {f.name for f in fields(UnlearnConfig) if f.init}
    probe = get_method(method)
    method_keys = {f.name for f in fields(probe) if f.init}
    unknown = set(settings) - config_keys - method_keys
    if unknown:
        key = sorted(unknown)[0]
        close = difflib.get_close_matches(key, config_keys | method_keys, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TypeError(f"unlearn() got an unknown setting {key!r}{hint}. {probe.name} hyperparameters: "
                        f"{', '.join(sorted(method_keys))}; training settings: the fields of UnlearnConfig "
                        "(TrainingArguments' fields, plus lora, merge_lora, eval_every, max_length)")
    clash = config_keys & method_keys
    if clash:
        raise TypeError(f"{probe.name} has hyperparameters named like training settings ({sorted(clash)}): "
                        "rename them, or a setting would silently go to only one of the two.")
    training = {k: v for k, v in settings.items() if k in config_keys}
    if args is None:
        config = UnlearnConfig(**training)
    else:
        check_settings(training)
        config = with_settings(args, **training)
    return config, get_method(probe, **{k: v for k, v in settings.items() if k in method_keys})


def with_tier_defaults(config: UnlearnConfig, method: Method, explicit: set[str], model) -> tuple[UnlearnConfig, Method]:
    """Use the method's defaults for this model's tier for every hyperparameter the caller left out.

    A method's published values were tuned on 1B-7B models and may change nothing
    on a tiny one (RMU's c = 6.5 against activations of another scale), so a method
    may declare ``tier_defaults``, found by a sweep on a validation world.  ``explicit``
    names what the caller chose: the settings passed, and every hyperparameter of a
    ``Method`` object passed in (it is used as built).  A ``learning_rate`` in ``args``
    wins too; only when none is given does the tier's come before the generic default.
    The log's ``hyperparameters`` show the values used; a log line says where they came from.
    """
    tier = model_tier(model)
    used = {key: value for key, value in type(method).tier_defaults.get(tier, {}).items() if key not in explicit}
    if config.learning_rate is not None:
        used.pop("learning_rate", None)
    if not used:
        return config, method
    if "learning_rate" in used:
        config = with_settings(config, learning_rate=used["learning_rate"])
    method = get_method(method, **{key: value for key, value in used.items() if key != "learning_rate"})
    logger.info("%s: %s-tier defaults %s (sweep: %s)", method.name, tier,
                ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in used.items()),
                type(method).tier_sweeps.get(tier, "not recorded"))
    return config, method


def settings_dict(config: UnlearnConfig) -> dict:
    """The settings that shape a run, as plain values (for the log and result tables)."""
    keys = ("learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
            "gradient_accumulation_steps", "lr_scheduler_type", "warmup_steps", "weight_decay", "seed", "bf16",
            "fp16", "activation_checkpointing", "max_length", "lora", "merge_lora", "eval_every", "optimizer")
    return {key: plain(getattr(config, key)) for key in keys}


def training_device() -> torch.device:
    """This process's device: under ``accelerate launch`` or ``torchrun``, GPU number ``LOCAL_RANK``."""
    dev = device()
    if dev.type == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return dev


def warn_if_unlearned_before(model, method: Method, inplace: bool) -> None:
    """Warn before unlearning a model that was already unlearned: the effects compound."""
    before = getattr(model, UNLEARNED_BY, None)
    if before and method.name != "descent":
        warnings.warn(f"this model was already unlearned ({', '.join(before)}): {method.name} now starts from "
                      "that result and takes it as the original model. Start from the target to compare "
                      "methods" + (" (with inplace=True the target itself was changed: reload it)." if inplace
                                   else "."), stacklevel=3)


@contextmanager
def scratch_folder():
    """A temporary folder for the Trainer's output_dir (nothing is written there without checkpoints)."""
    with tempfile.TemporaryDirectory(prefix="unlearnlab-") as folder:
        yield folder


def reinforcer(tokenizer, config: UnlearnConfig):
    """``finetune(model, dataset, epochs)`` for :meth:`Method.setup`: descent with this run's settings, no LoRA."""
    def finetune_for(model, dataset, epochs: float):
        settings = with_settings(config, num_train_epochs=epochs, max_steps=-1, lora=None, eval_every=None)
        return unlearn(model, tokenizer, "descent", dataset, args=settings, inplace=True)[0]
    return finetune_for


def autocast_dtype(config: UnlearnConfig) -> torch.dtype | None:
    """The dtype the Trainer computes in, so that log π_ref is precomputed in the same precision as training."""
    if config.bf16:
        return torch.bfloat16
    return torch.float16 if config.fp16 else None


# ----- data ------------------------------------------------------------------------------------
def prepare_data(model, tokenizer, method: Method, forget, retain, config: UnlearnConfig):
    """Relabel and encode both sets; add the log π_ref column when the method needs it.

    Returns ``(forget, retain or None, tokens run through the original model)``.
    """
    forget = encode_dataset(method.prepare_forget(forget, retain, config.seed), tokenizer, config.max_length)
    retain = encode_dataset(retain, tokenizer, config.max_length) if method.uses_retain else None
    if not method.reference_logprobs:
        return forget, retain, 0
    forget = add_reference_logprobs(model, forget, pad_id(tokenizer),
                                    batch_size=2 * config.per_device_train_batch_size,
                                    autocast_dtype=autocast_dtype(config))
    tokens = sum(map(len, forget["input_ids"]))
    if "preferred" in forget.column_names:
        tokens += sum(len(row["input_ids"]) for row in forget["preferred"])
    return forget, retain, tokens


# ----- model preparation -----------------------------------------------------------------------
def lora_for(method: Method, model, lora):
    """The LoRA settings for this method: on exactly the layers it trains when it chooses some (RMU)."""
    if not lora:
        return None
    names = method.trainable_parameters(model)
    if names is None:
        return lora
    if not isinstance(lora, dict) or "target_modules" in lora:
        raise ValueError(f"{method.name} trains only {names}; with LoRA its adapters go on exactly those layers, "
                         f"so pass lora as a dict without target_modules (got {lora!r}).")
    return {**lora, "target_modules": sorted({name.rsplit(".", 1)[0] for name in names})}


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


# ----- training ----------------------------------------------------------------------------------
def trainable_names(model, method: Method, config: UnlearnConfig) -> list[str] | None:
    """The parameters that train: the method's choice (None: all), cut to ``config.train_layers``."""
    names = None if config.lora else method.trainable_parameters(model)
    if config.train_layers is None:
        return names
    in_layers = set(layer_parameters(model, list(config.train_layers)))
    chosen = [name for name, _ in model.named_parameters() if name in in_layers and (names is None or name in names)]
    if not chosen:
        raise ValueError(f"{method.name} trains none of the parameters of train_layers {config.train_layers}; "
                         f"it trains {names}")
    return chosen


def train(model, tokenizer, method: Method, pairs: ForgetRetainPairs, config: UnlearnConfig, log: UnlearnLog,
          eval_fn: EvalFn | None, true_forget=None) -> tuple[UnlearnTrainer, int]:
    """Run the Trainer on the method's parameters (restricted by layers or saliency), then the method's final step.

    ``true_forget``: the forget items encoded with their true answers, whose loss
    gradient ranks the weights when ``config.saliency`` is set.  Returns the
    trainer and the tokens the live original model processed on all processes (0 without one).
    """
    with train_only(model, trainable_names(model, method, config)):
        masks = {}
        if config.saliency is not None:
            gradients = forget_gradients(model, true_forget, pad_id(tokenizer))
            masks = saliency_masks(gradients, config.saliency)
        log.trainable_entries = (sum(int(m.sum()) for m in masks.values()) if masks
                                 else count_parameters(model, trainable_only=True))
        reference = FrozenOriginal(model) if method.needs_live_reference else None
        original = snapshot_trainable(model) if method.needs_original else None
        trainer = build_trainer(model, tokenizer, method, reference, pairs, config, log, eval_fn)
        with masked_gradients(model, masks):
            trainer.train()
    if original is not None:
        method.finalize(model, original)
    if config.activation_checkpointing:
        model.activation_checkpointing_disable()
    return trainer, trainer.sum_over_processes(reference.tokens if reference is not None else 0)


def build_trainer(model, tokenizer, method: Method, reference, pairs: ForgetRetainPairs, config: UnlearnConfig,
                  log: UnlearnLog, eval_fn: EvalFn | None) -> UnlearnTrainer:
    """An ``UnlearnTrainer`` that records per-step loss parts (and evaluations) in ``log``."""
    if config.lora and config.activation_checkpointing:
        model.enable_input_require_grads()  # checkpointed blocks need an input that requires grad
    trainer = UnlearnTrainer(model=model, args=config, train_dataset=pairs,
                             data_collator=PairCollator(pad_id(tokenizer)), processing_class=tokenizer,
                             method=method, reference=reference)
    if config.disable_tqdm:
        trainer.remove_callback(PrinterCallback)
    trainer.add_callback(EpochPairs(pairs))
    trainer.add_callback(StepRecorder(trainer, log))
    if eval_fn is not None:
        items_per_step = config.per_device_train_batch_size * config.gradient_accumulation_steps * config.world_size
        per_epoch = -(-len(pairs) // items_per_step)
        trainer.add_callback(EvalRecorder(eval_fn, config.eval_every or per_epoch, log))
    return trainer


# ----- saving ------------------------------------------------------------------------------------
def check_save_dir(save_dir, overwrite: bool) -> Path | None:
    """Where the result will go; refuse a folder in the cache, or an existing one without ``overwrite``."""
    if save_dir is None:
        return None
    path = Path(save_dir).expanduser().resolve()
    cache = cache_dir().expanduser().resolve()
    if path == cache or cache in path.parents:
        raise ValueError(f"save_dir={str(save_dir)!r} is inside unlearnlab's cache ({cache}), which holds the "
                         "targets and retrained models: choose a folder outside it.")
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(f"save_dir={str(save_dir)!r} already holds files: pass overwrite=True to replace "
                              "them, or choose another folder.")
    return path


def save(trainer: UnlearnTrainer, model, tokenizer, path: Path, merged: bool) -> None:
    """Write the result (weights and tokenizer) into ``path`` atomically: a complete folder, or none.

    The Trainer gathers sharded weights (FSDP) before writing; a merged LoRA
    model is already a plain model and is written by the first process.
    """
    partial = path.with_name(f".{path.name}.partial")
    main = trainer.is_world_process_zero()
    if main:
        shutil.rmtree(partial, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    if merged:
        if main:
            model.save_pretrained(partial)
            tokenizer.save_pretrained(partial)
    else:
        trainer.save_model(str(partial))  # every process takes part (FSDP gathers shards); the first writes
    trainer.accelerator.wait_for_everyone()
    if main:
        if path.exists():
            shutil.rmtree(path)
        os.replace(partial, path)
    trainer.accelerator.wait_for_everyone()
