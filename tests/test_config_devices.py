"""Profile selection and device choice."""
import pytest
import torch

import unlearnlab
from unlearnlab import config, devices


def test_explicit_profile_wins(monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_PROFILE", "laptop")
    monkeypatch.setenv("CI", "true")
    assert unlearnlab.get_profile().name == "laptop"


def test_ci_variable_selects_ci_profile_without_cuda(monkeypatch):
    monkeypatch.delenv("UNLEARNLAB_PROFILE")
    monkeypatch.setenv("CI", "1")
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    assert config.profile_name() == "ci"


def test_cuda_selects_gpu_profile(monkeypatch):
    monkeypatch.delenv("UNLEARNLAB_PROFILE")
    monkeypatch.setenv("CI", "1")
    monkeypatch.setattr(devices, "cuda_available", lambda: True)
    assert config.profile_name() == "gpu"


def test_default_is_laptop(monkeypatch):
    monkeypatch.delenv("UNLEARNLAB_PROFILE")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    assert config.profile_name() == "laptop"


def test_unknown_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_PROFILE", "huge")
    with pytest.raises(ValueError, match="ci, laptop, gpu"):
        config.profile_name()


def test_every_shrunk_size_says_what_it_replaced():
    for profile in config.PROFILES.values():
        replaced = profile.replaced
        assert "n_authors" in replaced and "TOFU" in replaced["n_authors"]
        assert all(text for text in replaced.values())
        assert "replaces" in profile.describe()
    assert config.PROFILES["ci"].n_authors < config.PROFILES["laptop"].n_authors == 200


def test_device_falls_back_to_cpu_and_fp32(monkeypatch):
    monkeypatch.delenv("UNLEARNLAB_DEVICE", raising=False)
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    monkeypatch.setattr(devices, "mps_available", lambda: False)
    dev = devices.device()
    assert dev.type == "cpu"
    assert devices.dtype_for(dev) == torch.float32
    assert devices.describe(dev).startswith("cpu")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert devices.describe(dev) == "cpu (1 thread)"  # printed at the top of every chapter: no "1 threads"
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert devices.describe(dev) == "cpu (2 threads)"


def test_device_can_be_forced(monkeypatch):
    """UNLEARNLAB_DEVICE overrides the automatic choice, even where that choice would be a GPU."""
    monkeypatch.setattr(devices, "cuda_available", lambda: True)  # pretend this machine has a GPU
    monkeypatch.delenv("UNLEARNLAB_DEVICE", raising=False)
    assert devices.device().type == "cuda"  # the pretence works: unforced, cuda wins
    monkeypatch.setenv("UNLEARNLAB_DEVICE", "cpu")
    assert devices.device().type == "cpu"
    monkeypatch.setenv("UNLEARNLAB_DEVICE", "meta")  # a device the automatic choice never picks
    assert devices.device().type == "meta"


def test_device_says_which_device_it_chose_only_when_asked(caplog, monkeypatch):
    monkeypatch.setenv("UNLEARNLAB_DEVICE", "meta")
    with caplog.at_level("INFO", logger="unlearnlab"):
        devices.device()
        assert caplog.text == ""
        devices.device(verbose=True)
    assert "device: meta" in caplog.text  # the chosen device, not a fixed text


@pytest.mark.parametrize("value, message", [("cuda", "no cuda device"), ("gpu0", "not a device name"),
                                            ("mps", "no mps device")])
def test_a_forced_device_that_is_not_there_names_the_variable(monkeypatch, value, message):
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    monkeypatch.setattr(devices, "mps_available", lambda: False)
    monkeypatch.setenv("UNLEARNLAB_DEVICE", value)
    with pytest.raises(ValueError, match=f"UNLEARNLAB_DEVICE.*{message}"):
        devices.device()


def test_optional_backend_loggers_show_only_errors_unless_the_user_chose(monkeypatch):
    import logging

    from unlearnlab import OPTIONAL_BACKEND_LOGGERS, _quiet_optional_backends
    first, second, third = (logging.getLogger(n) for n in OPTIONAL_BACKEND_LOGGERS)
    monkeypatch.setattr(first, "level", logging.NOTSET)
    monkeypatch.setattr(second, "level", logging.DEBUG)  # chosen by the user: kept
    monkeypatch.setattr(third, "level", logging.NOTSET)
    _quiet_optional_backends()
    assert first.level == logging.ERROR and second.level == logging.DEBUG and third.level == logging.ERROR
    # bitsandbytes' CPU back end logs through a child logger, which inherits the level
    assert logging.getLogger("bitsandbytes.backends.cpu.ops").getEffectiveLevel() == logging.ERROR
