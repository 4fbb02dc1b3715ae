"""End to end, ci profile: the main job trains, unlearns three ways, evaluates, and writes its outputs."""
import json

import pytest

from unlearnlab import quickstart


@pytest.mark.slow
def test_quickstart_forgets_and_keeps_utility(tmp_path):
    out = tmp_path / "run"
    summary = quickstart.run(out=out)
    assert (out / "results.json").exists() and (out / "forget_vs_utility.png").stat().st_size > 10_000
    saved = json.loads((out / "results.json").read_text())
    assert saved["summary"].keys() == {"reference", "target", "ga", "graddiff", "npo"}

    s = summary["summary"]
    target, reference = s["target"], s["reference"]
    assert target["forget_quality"] < 0.01, "the target is far from the retrained model"
    for method in ("ga", "graddiff", "npo"):
        assert s[method]["forget_rougeL_recall"] < target["forget_rougeL_recall"] - 0.2, f"{method} forgot"
        assert s[method]["forget_quality"] > target["forget_quality"], f"{method} moved toward retraining"
    for method in ("graddiff", "npo"):
        assert s[method]["model_utility"] > 0.6 * target["model_utility"], f"{method} kept utility"
    assert s["ga"]["model_utility"] < 0.1 * target["model_utility"], "unbounded GA collapses"
    assert s["npo"]["retain_rougeL_recall"] > 0.6, "npo still answers retain questions"
    assert s["graddiff"]["retain_rougeL_recall"] > s["ga"]["retain_rougeL_recall"] + 0.3, "the retain term helps"
    assert reference["forget_rougeL_recall"] < target["forget_rougeL_recall"]

    with pytest.raises(FileExistsError, match="--overwrite"):
        quickstart.run(out=out)
