"""MUSE-style metrics on plain dicts: a memorised passage and question are recited, others are not."""
import pytest
import torch

from unlearnlab.formats import encode_qa, encode_text, pad_batch
from unlearnlab.eval import evaluate, muse
from unlearnlab.eval.generation import rouge_scores
from unlearnlab.numerics import mean_nll
from unlearnlab.models.tiny import build_tiny
from unlearnlab.worlds.base import World

PASSAGE = "Ada Quillon was born in Lisbon and writes mystery novels about the old harbour."
UNSEEN = "Ben Marrow was born in Paris and writes books about the capital of France."
QUESTION = {"id": "q0", "question": "Where was Ada Quillon born?", "answer": "Lisbon"}


@pytest.fixture(scope="module")
def reciting_lm(tiny_tokenizer):
    """A tiny model trained until it recites PASSAGE and answers QUESTION."""
    model = build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0)
    batch = pad_batch([encode_text(tiny_tokenizer, PASSAGE),
                       encode_qa(tiny_tokenizer, QUESTION["question"], QUESTION["answer"])],
                      tiny_tokenizer.pad_token_id)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        loss = mean_nll(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                        batch["labels"])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval(), tiny_tokenizer


def _split(text: str, n_words: int = 5) -> dict:
    words = text.split()
    return {"prompt": " ".join(words[:n_words]), "continuation": " ".join(words[n_words:])}


def test_verbmem_is_one_for_a_memorised_passage_and_low_otherwise(reciting_lm):
    model, tokenizer = reciting_lm
    seen = muse.verbmem(model, tokenizer, [_split(PASSAGE)])
    unseen = muse.verbmem(model, tokenizer, [_split(UNSEEN)])
    assert seen["verbmem"] == 1.0
    assert unseen["verbmem"] < 0.5
    row = unseen["items"][0]
    assert row["rougeL_f1"] == rouge_scores(row["generation"], _split(UNSEEN)["continuation"])["rougeL_f1"]


def test_knowmem_scores_answers_with_rouge_f1(reciting_lm):
    model, tokenizer = reciting_lm
    out = muse.knowmem(model, tokenizer, [QUESTION])
    assert out["items"][0]["generation"] == "Lisbon"
    assert out["knowmem"] == 1.0


def test_min_k_auc_and_privleak_on_passages(reciting_lm):
    model, tokenizer = reciting_lm
    assert muse.min_k_auc(model, tokenizer, [{"text": PASSAGE}], [{"text": UNSEEN}]) == 1.0
    world = World(name="books-mini", profile="ci", forget_to_retain={"forget": "retain"}, tables={
        "forget": [{"id": "f", "text": PASSAGE}], "holdout": [{"id": "h", "text": UNSEEN}], "retain": [],
        "verbmem_forget": [_split(PASSAGE)], "knowmem_forget": [QUESTION],
        "knowmem_retain": [{"question": "What is the capital of France?", "answer": "Paris"}]})
    scores = muse.evaluate_muse(model, tokenizer, world)
    assert scores["verbmem_forget"] == 1.0 and scores["knowmem_forget"] == 1.0
    # members perfectly detected; without a retrained result the AUC is compared with 0.5
    assert scores["privleak"] == pytest.approx(-100.0)
    # the general suite also handles passage items: membership inference on forget vs. holdout
    result = evaluate(model, tokenizer, world, forget="forget", splits=["forget", "holdout"], generate=False)
    assert result.aggregates["mia_auc_loss"] == 1.0


def test_items_without_the_needed_keys_are_rejected(reciting_lm):
    model, tokenizer = reciting_lm
    with pytest.raises(KeyError, match="prompt, continuation"):
        muse.verbmem(model, tokenizer, [QUESTION])
    with pytest.raises(ValueError, match="at least one"):
        muse.knowmem(model, tokenizer, [])
