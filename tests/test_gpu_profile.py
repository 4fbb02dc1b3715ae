"""The gpu profile on a CPU machine: precision, model choice, LoRA rule and the printed plan, with a faked GPU."""
from types import SimpleNamespace

import pytest
import torch

from unlearnlab import config, devices, models
from unlearnlab.models import planning as plan_module
from unlearnlab.training import config as training_config
from unlearnlab.training.config import UnlearnConfig, resolve

GB = 10**9


@pytest.fixture
def fake_gpu(monkeypatch):
    """Pretend a CUDA GPU is there; returns a setter for its bf16 support and memory."""
    state = {"bf16": True, "memory": 80 * GB, "name": "NVIDIA H100"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: state["bf16"])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: state["name"])
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda *a, **k: SimpleNamespace(total_memory=state["memory"], name=state["name"]))

    def set_gpu(bf16: bool, memory_gb: float, name: str) -> None:
        state.update(bf16=bf16, memory=int(memory_gb * GB), name=name)
    return set_gpu


def test_precision_is_bf16_where_native_fp16_on_a_t4_and_fp32_on_cpu(fake_gpu):
    assert devices.mixed_precision(torch.device("cpu")) == "fp32"
    assert devices.mixed_precision(torch.device("cuda")) == "bf16"
    fake_gpu(bf16=False, memory_gb=15.8, name="Tesla T4")
    assert devices.mixed_precision(torch.device("cuda")) == "fp16"


@pytest.mark.parametrize("precision, bf16, fp16", [("bf16", True, False), ("fp16", False, True),
                                                   ("fp32", False, False)])
def test_the_training_config_follows_the_precision(monkeypatch, precision, bf16, fp16):
    monkeypatch.setattr(training_config, "mixed_precision", lambda dev: precision)
    resolved = resolve(UnlearnConfig(), torch.nn.Linear(2, 2))
    assert (resolved.bf16, resolved.fp16) == (bf16, fp16)


def test_an_explicit_precision_is_kept(monkeypatch):
    monkeypatch.setattr(training_config, "mixed_precision", lambda dev: "fp16")
    resolved = resolve(UnlearnConfig(bf16=True), torch.nn.Linear(2, 2))
    assert (resolved.bf16, resolved.fp16) == (True, False)


def test_ci_and_laptop_keep_the_tiny_model_and_the_gpu_profile_takes_a_pretrained_one(monkeypatch):
    monkeypatch.delenv("UNLEARNLAB_MODEL", raising=False)
    assert config.target_model("ci") == ("tiny", "the ci profile's default")
    assert config.target_model("laptop")[0] == "tiny"
    assert config.target_model("gpu")[0] == "hf:HuggingFaceTB/SmolLM2-360M-Instruct"


def test_one_variable_overrides_the_model(monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_MODEL", "hf:meta-llama/Llama-3.2-1B-Instruct")
    assert config.target_model("gpu") == ("hf:meta-llama/Llama-3.2-1B-Instruct", "UNLEARNLAB_MODEL")


def test_lora_only_when_full_finetuning_does_not_fit():
    assert not plan_module.needs_lora(362_000_000, 15 * GB)  # SmolLM2-360M on a T4: 5.8 GB
    assert plan_module.needs_lora(1_240_000_000, 15 * GB)  # Llama-3.2-1B on a T4: 20 GB
    assert not plan_module.needs_lora(1_240_000_000, 141 * GB)  # ... on an H200
    assert not plan_module.needs_lora(1_240_000_000, None)  # CPU: as before


def test_cpu_recipes_are_unchanged():
    assert models.memory_settings("hf:meta-llama/Llama-3.2-1B-Instruct", torch.device("cpu")) == {}
    assert models.memory_settings("tiny", torch.device("cuda")) == {}


def test_the_plan_on_a_t4_prints_fp16_full_finetuning_of_the_default(fake_gpu, monkeypatch, capsys):
    monkeypatch.delenv("UNLEARNLAB_MODEL", raising=False)
    fake_gpu(bf16=False, memory_gb=15.8, name="Tesla T4")
    chosen = models.plan(profile="gpu", device="cuda", n_params=362_000_000)
    assert chosen.model == "hf:HuggingFaceTB/SmolLM2-360M-Instruct"
    assert (chosen.precision, chosen.lora) == ("fp16", None)
    assert chosen.finetune["learning_rate"] == config.PROFILES["gpu"].pretrained_lr
    printed = capsys.readouterr().out
    assert "Tesla T4" in printed and "fp16 mixed precision with loss scaling" in printed
    assert "full fine-tuning fits" in printed


def test_the_plan_for_a_1b_model_on_a_t4_chooses_lora(fake_gpu, monkeypatch, capsys):
    monkeypatch.setenv("UNLEARNLAB_MODEL", "hf:meta-llama/Llama-3.2-1B-Instruct")
    fake_gpu(bf16=False, memory_gb=15.8, name="Tesla T4")
    chosen = models.plan(profile="gpu", device="cuda", n_params=1_240_000_000)
    assert chosen.model_source == "UNLEARNLAB_MODEL" and chosen.lora["r"] == 16
    assert chosen.finetune["learning_rate"] == pytest.approx(10 * config.PROFILES["gpu"].pretrained_lr)
    assert chosen.unlearn["lora"]["r"] == 16
    assert "LoRA instead" in capsys.readouterr().out


def test_the_plan_on_an_h100_uses_bf16_and_full_finetuning(fake_gpu, monkeypatch):
    monkeypatch.delenv("UNLEARNLAB_MODEL", raising=False)
    chosen = models.plan("hf:meta-llama/Llama-3.2-1B-Instruct", profile="gpu", device="cuda",
                         n_params=1_240_000_000, verbose=False)
    assert (chosen.precision, chosen.lora, chosen.model_source) == ("bf16", None, "argument")


def test_the_plan_on_the_ci_profile_is_the_tiny_model_in_fp32(monkeypatch):
    monkeypatch.delenv("UNLEARNLAB_MODEL", raising=False)
    chosen = models.plan(profile="ci", device="cpu", verbose=False)
    assert (chosen.model, chosen.precision, chosen.lora) == ("tiny", "fp32", None)
    assert chosen.finetune["learning_rate"] == config.PROFILES["ci"].train_lr


class _Spec(Exception):
    """Raised by the stand-in cache, carrying the spec that would have been built."""


@pytest.mark.parametrize("override, expected", [(None, "tiny"), ("hf:org/some-model", "hf:org/some-model")])
def test_a_target_without_a_name_is_the_profiles_model_or_the_override(monkeypatch, override, expected):
    if override:
        monkeypatch.setenv("UNLEARNLAB_MODEL", override)
    else:
        monkeypatch.delenv("UNLEARNLAB_MODEL", raising=False)

    def capture(kind, spec, build, **kwargs):
        raise _Spec(spec)
    monkeypatch.setattr(models, "cached", capture)
    with pytest.raises(_Spec) as caught:
        models.target(world="authors", profile="ci")
    spec = caught.value.args[0]
    assert spec["model"] == expected and spec["forget"] is None
    assert "lora" not in spec["train"]  # on the CPU the recipe is the one it always was
    with pytest.raises(_Spec) as caught:
        models.retrained(world="authors", profile="ci")
    assert caught.value.args[0]["model"] == expected and caught.value.args[0]["forget"] == "forget10"
