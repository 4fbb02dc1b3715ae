"""Unlearn on several GPUs: the notebook's ``unlearn()`` call, started by ``accelerate launch``.

    accelerate launch --config_file examples/accelerate/fsdp.yaml examples/accelerate/unlearn.py \\
        --model path/to/fine-tuned-target --method npo --forget forget10 --save_dir outputs/npo \\
        --learning_rate 1e-5 --num_train_epochs 5 --per_device_train_batch_size 4

Every process runs this same file; the Trainer inside ``unlearn()`` reads the
launcher's settings (FSDP, bf16, number of GPUs) and splits the batches among
them.  The training options are those of ``UnlearnConfig``, which is a
``TrainingArguments``: every Trainer option works (``--help`` lists them), plus
``--lora``, ``--eval_every`` and ``--max_length``.  The first process writes the log.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser

from unlearnlab import models, worlds
from unlearnlab.training import UnlearnConfig, unlearn


@dataclass
class ScriptArguments:
    """What to unlearn, from which model, and where the result goes."""

    model: str = field(default="smollm2-135m", metadata={"help": "tiny | smollm2-135m | hf:<id> | a local folder"})
    method: str = field(default="npo", metadata={"help": "a registered method, e.g. npo, graddiff, kl, rmu"})
    world: str = "authors"
    forget: str | None = field(default=None, metadata={"help": "forget split; default: the world's default"})
    save_dir: str | None = field(default=None, metadata={"help": "where the unlearned model is saved"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing save_dir"})


def main() -> None:
    script, config = HfArgumentParser((ScriptArguments, UnlearnConfig)).parse_args_into_dataclasses()
    world = worlds.load(script.world)
    forget = script.forget or world.default_forget
    model, tokenizer = models.load(script.model, world)
    _, log = unlearn(model, tokenizer, script.method, world.split(forget), world.split(world.retain_split(forget)),
                     args=config, inplace=True, save_dir=script.save_dir, overwrite=script.overwrite)
    rank = int(os.environ.get("RANK", "0"))
    # every process prints what it logged: the values are gathered, so the processes agree.
    # One write of one whole line, so that the processes' lines cannot interleave on a shared pipe.
    summary = json.dumps({"rank": rank, "losses": log.series("loss"), "tokens": log.tokens, "flops": log.flops})
    sys.stdout.write(f"unlearn log: {summary}\n")
    sys.stdout.flush()
    if rank == 0 and script.save_dir:
        Path(script.save_dir, "unlearn_log.json").write_text(json.dumps(log.to_dict(), indent=2, default=str))


if __name__ == "__main__":
    main()
