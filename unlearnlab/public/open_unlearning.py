"""The open-unlearning project's public TOFU checkpoints and its published reproducibility numbers.

open-unlearning (github.com/locuslab/open-unlearning) publishes TOFU targets and
retain models on the hub, and in ``docs/repro.md`` the scores of baseline methods
run from them (lr 1e-5, 10 epochs, effective batch 32, 2 × L40s).  With these a
course run can stand next to a published one: the same data, the same target,
the same retrained reference, only the method run here.

The checkpoint ids below were checked against public code that loads them
(``open-unlearning/tofu_Llama-3.2-1B-Instruct_full`` and ``_retain90``/``_retain95``/``_retain99``
appear in several projects' scripts); the hub itself could not be reached when
this file was written, so they are not verified by download.  The numbers are
copied from ``docs/repro.md`` at commit :data:`REPRO_COMMIT`; open-unlearning
itself says to use them "only for reproducibility purposes": tuned methods do better.
"""
from __future__ import annotations

from pathlib import Path

from .tofu import FORGET_TO_RETAIN

ORG = "open-unlearning"
#: where the published numbers come from
REPRO_SOURCE = "https://github.com/locuslab/open-unlearning/blob/main/docs/repro.md"
REPRO_COMMIT = "7fa0b552e59bd50aef00529b43546865c6f30c7d"
#: their eval logs (``*_SUMMARY.json``, ``TOFU_EVAL.json``) are in this hub dataset
EVAL_LOGS_HUB_ID = "open-unlearning/eval"
#: architectures with published TOFU checkpoints and the hub ids of the models they were fine-tuned from
BASE_MODELS = {"Llama-3.2-1B-Instruct": "meta-llama/Llama-3.2-1B-Instruct"}
DEFAULT_MODEL = "Llama-3.2-1B-Instruct"
#: the metrics repro.md reports for TOFU
METRICS = ("forget_quality", "model_utility", "forget_truth_ratio")

# repro.md, "TOFU unlearning on the Llama-3.2-1B-Instruct architecture":
# method -> forget split -> (forget_quality, model_utility, forget_truth_ratio)
_LLAMA_1B = {
    "Finetuned": {"forget01": (0.01, 0.6, 0.47), "forget05": (1.33e-13, 0.6, 0.47), "forget10": (1.66e-21, 0.6, 0.48)},
    "Retain": {"forget01": (1.0, 0.60, 0.65), "forget05": (1.0, 0.6, 0.64), "forget10": (1.0, 0.59, 0.63)},
    "GradAscent": {"forget01": (0.27, 0.33, 0.59), "forget05": (1.94e-119, 0, 2.52e-23),
                   "forget10": (1.06e-239, 0, 2.25e-18)},
    "GradDiff": {"forget01": (0.77, 0.43, 0.57), "forget05": (1.94e-119, 0.53, 3.87e-34),
                 "forget10": (1.06e-239, 0.49, 3.53e-27)},
    "IdkDPO": {"forget01": (0.01, 0.51, 0.60), "forget05": (1.12e-05, 0.07, 0.62), "forget10": (4.64e-12, 0.23, 0.6)},
    "NPO": {"forget01": (0.92, 0.56, 0.66), "forget05": (0.14, 0.45, 0.7), "forget10": (0.02, 0.46, 0.7)},
    "SimNPO": {"forget01": (0.58, 0.46, 0.55), "forget05": (5.01e-100, 0.58, 4.19e-03),
               "forget10": (2.47e-203, 0.54, 1.07e-05)},
    "RMU": {"forget01": (0.16, 0.55, 0.70), "forget05": (4.87e-10, 0.58, 0.77), "forget10": (3.15e-15, 0.59, 0.76)},
}
PUBLISHED = {"Llama-3.2-1B-Instruct": _LLAMA_1B}
#: the course's method names -> open-unlearning's
METHOD_NAMES = {"ga": "GradAscent", "graddiff": "GradDiff", "npo": "NPO", "simnpo": "SimNPO",
                "rmu": "RMU", "target": "Finetuned", "retrained": "Retain"}


def checkpoint_id(role: str, forget: str = "forget10", model: str = DEFAULT_MODEL) -> str:
    """The hub id of the published ``target`` (fine-tuned on all of TOFU) or ``retrained`` model for ``forget``."""
    if model not in BASE_MODELS:
        raise KeyError(f"open-unlearning checkpoints are listed here for {', '.join(BASE_MODELS)}, not {model!r}")
    if role == "target":
        return f"{ORG}/tofu_{model}_full"
    if role == "retrained":
        if forget not in FORGET_TO_RETAIN:
            raise KeyError(f"TOFU forget splits are {', '.join(FORGET_TO_RETAIN)}, not {forget!r}")
        return f"{ORG}/tofu_{model}_{FORGET_TO_RETAIN[forget]}"
    raise ValueError(f"role is 'target' or 'retrained', not {role!r}")


def checkpoint(role: str, forget: str = "forget10", model: str = DEFAULT_MODEL,
               local_dir: str | Path | None = None) -> str:
    """A name ``unlearnlab.models.load`` takes: ``hf:<id>``, or the folder of a local copy.

    A local copy is a folder in ``local_dir`` named like the hub repository
    (``tofu_Llama-3.2-1B-Instruct_full``), as ``git clone`` or
    ``huggingface-cli download --local-dir`` leave it.
    """
    hub_id = checkpoint_id(role, forget, model)
    if local_dir is None:
        return f"hf:{hub_id}"
    folder = Path(local_dir).expanduser() / hub_id.split("/")[1]
    if not folder.is_dir():
        raise FileNotFoundError(f"no local copy of {hub_id}: expected the folder {folder} "
                                f"(e.g. `huggingface-cli download {hub_id} --local-dir {folder}`).")
    return str(folder)


def published(method: str, forget: str = "forget10", model: str = DEFAULT_MODEL) -> dict[str, float]:
    """open-unlearning's reproducibility numbers for a method (course or open-unlearning name)."""
    name = METHOD_NAMES.get(method.lower(), method)
    table = PUBLISHED.get(model, {})
    if name not in table or forget not in table[name]:
        raise KeyError(f"no published TOFU numbers for {method!r} on {model} {forget}; published: "
                       f"{', '.join(table)} on {', '.join(FORGET_TO_RETAIN)}")
    return dict(zip(METRICS, table[name][forget]))
