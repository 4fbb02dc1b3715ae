"""The multi-GPU example runs in two CPU processes (as `accelerate launch` would start them), and a NaN stops both."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["npo", "kl"])
def test_accelerate_example_runs_in_two_processes(tmp_path, method):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               str(ROOT / "examples/accelerate/unlearn.py"), "--model", "tiny", "--method", method,
               "--max_steps", "2", "--per_device_train_batch_size", "2", "--logging_steps", "1",
               "--disable_tqdm", "true", "--save_dir", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    log = json.loads((tmp_path / "out" / "unlearn_log.json").read_text())
    assert log["method"] == method and len(log["steps"]) == 2
    assert (tmp_path / "out" / "config.json").exists()  # the unlearned model, saved once
    # every process logged the same values: the parts are gathered over both
    ranks = [json.loads(line.split("unlearn log:", 1)[1]) for line in done.stdout.splitlines()
             if "unlearn log:" in line]
    assert sorted(r["rank"] for r in ranks) == [0, 1]
    assert ranks[0]["losses"] == ranks[1]["losses"] and ranks[0]["tokens"] == ranks[1]["tokens"]
    # tokens are counted over both processes: each step saw 4 forget and 4 retain items, not 2 and 2
    assert all(step["tokens"] >= _fewest_tokens(4) for step in log["steps"])
    assert log["tokens"] == sum(step["tokens"] for step in log["steps"]) == ranks[0]["tokens"]
    parts = [entry for entry in log["history"] if "loss" in entry]
    assert [entry["step"] for entry in parts] == [1, 2] and all("forget" in entry for entry in parts)


def _fewest_tokens(n: int) -> int:
    """Tokens of the n shortest forget items plus the n shortest retain items of the example's data."""
    from unlearnlab import models, worlds
    from unlearnlab.formats import encode_dataset

    world = worlds.load("authors")
    _, tokenizer = models.load("tiny", world)
    lengths = [sorted(map(len, encode_dataset(world.split(split), tokenizer)["input_ids"]))
               for split in ("forget10", "retain90")]
    return sum(sum(split[:n]) for split in lengths)


@pytest.mark.slow
def test_a_nan_on_one_process_stops_every_process(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               str(ROOT / "tests/scripts/nan_in_two_processes.py"), str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for rank in (0, 1):  # rank 0's own loss was finite: it stops because the gathered one was not
        assert (tmp_path / f"rank{rank}.txt").read_text().startswith("stopped: nan_on_rank_one: the loss became")
