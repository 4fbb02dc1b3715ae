"""Run profiles: one switch that sizes every world, model and loop in the course.

The survey's reference experiments (TOFU on Llama-2-7B, WMDP on Zephyr-7B) need a
GPU cluster.  A course must also run on a laptop and in CI, so every size that a
profile shrinks is recorded together with what it replaced (``Profile.replaced``).

Choose a profile with the environment variable ``UNLEARNLAB_PROFILE`` (``ci``,
``laptop`` or ``gpu``).  Unset, it is ``gpu`` when CUDA is present, ``ci`` when the
``CI`` variable is set, and ``laptop`` otherwise.

Each profile also names its default target model (``target_model``): the tiny
from-scratch model on ci and laptop, a pretrained instruction model fine-tuned on
the world on a GPU.  ``UNLEARNLAB_MODEL`` overrides it in one line (any name that
``unlearnlab.models.load`` takes, e.g. ``hf:meta-llama/Llama-3.2-1B-Instruct``).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields

PROFILE_NAMES = ("ci", "laptop", "gpu")


def _size(value: int | float, replaces: str):
    """A dataclass field whose metadata says which reference size it stands in for."""
    return field(default=value, metadata={"replaces": replaces})


@dataclass(frozen=True)
class Profile:
    """Every size that depends on the machine the course runs on."""

    name: str = "laptop"
    # --- the authors world (TOFU stand-in) ---
    n_authors: int = _size(200, "TOFU: 200 fictitious authors")
    n_holdout: int = _size(20, "TOFU: holdout authors matching forget10 in size")
    n_world_facts: int = _size(100, "TOFU: 117 world facts")
    # --- the other generated worlds (a ci subset of the committed laptop-size data) ---
    hazard_topics: int = _size(40, "WMDP: 3,668 four-option MCQs on bio, cyber and chem hazards")
    book_chapters: int = _size(4, "MUSE-Books: the Harry Potter books (forget, retain, holdout)")
    record_people: int = _size(60, "Enron e-mail corpus: about 150 employees' mailboxes")
    behaviour_prompts: int = _size(40, "PKU-SafeRLHF: thousands of harmful prompts")
    # --- the tiny model trained from scratch ---
    tiny_hidden: int = _size(192, "Llama-2-7B: hidden size 4096")
    tiny_layers: int = _size(4, "Llama-2-7B: 32 layers")
    tiny_vocab: int = _size(3072, "Llama-2: 32,000-token vocabulary")
    train_epochs: int = _size(30, "TOFU: 5 epochs of fine-tuning a pretrained 7B model")
    train_lr: float = _size(3e-3, "TOFU: 1e-5 for a pretrained 7B model")
    train_batch_size: int = _size(32, "TOFU: effective batch 32")
    train_min_steps: int = _size(600, "TOFU: ~625 steps (4,000 QA pairs, 5 epochs at batch 32)")
    # --- the model that chapters fine-tune on the world when they ask for the profile's default ---
    target_model: str = _size("tiny", "TOFU: Llama-2-7B-chat (open-unlearning: also Llama-3.2-1B-Instruct)")
    # --- fine-tuning a pretrained model (small tier and hub models) ---
    pretrained_epochs: int = _size(5, "TOFU: 5 epochs")
    pretrained_lr: float = _size(1e-4, "TOFU: 1e-5 for Llama-2-7B (smaller models take larger steps)")
    pretrained_batch_size: int = _size(16, "TOFU: effective batch 32")
    # --- unlearning and evaluation ---
    pretrained_unlearn_lr: float = _size(1e-5, "TOFU and open-unlearning: 1e-5")
    unlearn_epochs: int = _size(5, "TOFU: 5 unlearning epochs (10 in open-unlearning)")
    unlearn_batch_size: int = _size(8, "TOFU: effective batch 32")
    eval_max_items: int | None = _size(None, "TOFU: 300 items per split (ds_size), 400 forget items")
    max_new_tokens: int = _size(32, "TOFU: 200 new tokens")

    @property
    def replaced(self) -> dict[str, str]:
        """Map each shrunk size to the reference size it replaced."""
        return {f.name: f.metadata["replaces"] for f in fields(self) if "replaces" in f.metadata}

    def describe(self) -> str:
        """A table of this profile's sizes and what each one replaced."""
        rows = [f"profile {self.name!r}"]
        for key, replaces in self.replaced.items():
            rows.append(f"  {key:<22} = {getattr(self, key)!s:<8} (replaces {replaces})")
        return "\n".join(rows)

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES: dict[str, Profile] = {
    # CI: a 2-core machine with a 60-minute budget for the whole course.  Evaluation reads at most 120
    # items per split: forget10, holdout and the hard probes (76-116 items) whole, retain90 (684) its first
    # 120 (direct questions first), which cuts an evaluation from ~14 s to ~7 s.
    "ci": Profile(
        name="ci", n_authors=40, n_holdout=4, n_world_facts=30,
        hazard_topics=12, book_chapters=2, record_people=24, behaviour_prompts=16,
        tiny_hidden=128, tiny_layers=4, train_epochs=25, train_lr=5e-3, train_batch_size=32, train_min_steps=375,
        unlearn_epochs=5, unlearn_batch_size=4, eval_max_items=120, max_new_tokens=24,
    ),
    # A laptop CPU: the TOFU-sized world, minutes per model; 400 items per split keeps forget10 and
    # holdout (380 items each) whole, as TOFU evaluates its 400 forget10 items.
    "laptop": Profile(name="laptop", eval_max_items=400),
    # One GPU (a free Colab T4 is enough): the same world, and a pretrained 360M instruction model
    # fully fine-tuned on it as the target; the tiny model stays available by name, a bit larger.
    "gpu": Profile(name="gpu", tiny_hidden=256, tiny_layers=6, max_new_tokens=48,
                   target_model="hf:HuggingFaceTB/SmolLM2-360M-Instruct",
                   pretrained_epochs=5, pretrained_lr=3e-5, pretrained_batch_size=16, pretrained_unlearn_lr=1e-5),
}


def profile_name() -> str:
    """Resolve the active profile name from the environment (see module docstring)."""
    name = os.environ.get("UNLEARNLAB_PROFILE", "").strip().lower()
    if name:
        if name not in PROFILES:
            raise ValueError(
                f"UNLEARNLAB_PROFILE={name!r} is not a profile; use one of {', '.join(PROFILE_NAMES)}."
            )
        return name
    from .devices import cuda_available

    if cuda_available():
        return "gpu"
    if os.environ.get("CI"):
        return "ci"
    return "laptop"


def target_model(profile: str | None = None) -> tuple[str, str]:
    """The default target model and why it was chosen: ``UNLEARNLAB_MODEL``, else the profile's."""
    override = os.environ.get("UNLEARNLAB_MODEL", "").strip()
    if override:
        return override, "UNLEARNLAB_MODEL"
    prof = get_profile(profile)
    return prof.target_model, f"the {prof.name} profile's default"


def get_profile(name: str | None = None) -> Profile:
    """Return the named profile, or the active one when ``name`` is None."""
    name = name or profile_name()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; use one of {', '.join(PROFILE_NAMES)}.")
    return PROFILES[name]
