"""The GPU check's dry run: every step at toy size on the CPU, a table and a JSON report."""
import json

from unlearnlab.perf import gpu_check


def test_peak_flops_are_looked_up_by_the_gpus_name():
    assert gpu_check.peak_tflops("NVIDIA H200") == 989.0
    assert gpu_check.peak_tflops("Tesla T4") == 65.0
    assert gpu_check.peak_tflops("cpu") is None


def test_the_dry_run_measures_every_step_and_writes_json(tmp_path, capsys):
    out = tmp_path / "gpu_check.json"
    report = gpu_check.main(["--dry-run", "--out", str(out)])
    assert report["dry_run"] and json.loads(out.read_text()) == report
    steps = {step["name"]: step for step in report["steps"]}
    assert list(steps) == ["npo-step-small", "npo-step-1b", "memory-1b", "target-finetune", "chapter", "fsdp"]
    for name in ("npo-step-small", "npo-step-1b", "memory-1b", "target-finetune"):
        assert steps[name]["status"] == "ok", steps[name]["note"]
    assert steps["npo-step-small"]["figures"]["tokens_per_s"] > 0
    assert steps["memory-1b"]["figures"]["ratio"] > 0
    # the NPO side of memory-1b is npo-step-1b's own measurement, not a third process of the same configuration
    assert steps["memory-1b"]["figures"]["npo_peak_mb"] == steps["npo-step-1b"]["figures"]["peak_memory_mb"]
    assert steps["target-finetune"]["figures"]["timed_steps"] == 2
    assert {steps["chapter"]["status"], steps["fsdp"]["status"]} == {"skipped"}
    assert "DRY RUN" in capsys.readouterr().out


def test_a_failing_step_is_recorded_and_does_not_stop_the_others():
    step = gpu_check.timed("broken", lambda: 1 / 0)
    assert step.status == "failed" and "ZeroDivisionError" in step.note


def test_a_configuration_is_measured_in_one_process_per_run(monkeypatch):
    """memory-1b reuses npo-step-1b's process (same arguments); a new run measures afresh."""
    from unlearnlab.perf.engine import Measurement

    calls = []

    def fake(config, argv):
        calls.append((config, tuple(argv)))
        return Measurement(config, "npo", 1.0, 10.0, 100.0, 50.0, 1.0, 1000, "cpu")

    monkeypatch.setattr(gpu_check, "run_isolated", fake)
    monkeypatch.setattr(gpu_check, "_measured", {})
    a = gpu_check.measure("engine", ["--model", "tiny"])
    assert gpu_check.measure("engine", ["--model", "tiny"]) is a and len(calls) == 1
    gpu_check.measure("finetune", ["--model", "tiny"])
    gpu_check.measure("engine", ["--model", "other"])
    assert len(calls) == 3
