"""The multi-GPU example runs: two CPU processes of data parallelism, as `accelerate launch` would start."""
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
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               str(ROOT / "examples/accelerate/unlearn.py"), "--model", "tiny", "--method", method,
               "--max-steps", "2", "--batch-size", "2", "--save-dir", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    log = json.loads((tmp_path / "out" / "unlearn_log.json").read_text())
    assert log["method"] == method and len(log["steps"]) == 2
    assert (tmp_path / "out" / "config.json").exists()  # the unlearned model, saved once
