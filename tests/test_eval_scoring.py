"""Teacher-forced scoring and greedy generation: right numbers, and batching changes nothing."""
import pytest
import torch

from unlearnlab.formats import encode_prompt, encode_qa, pad_batch
from unlearnlab.eval.generation import greedy_generate
from unlearnlab.eval.scoring import position_ids_from_mask, score_features
from unlearnlab.numerics import mean_nll, token_logprobs
from unlearnlab.models.tiny import build_tiny

QA = [
    ("Where was Ada Quillon born?", "Ada Quillon was born in Lisbon."),
    ("What genre does Ben Marrow write?", "Ben Marrow writes mystery novels set in the old harbour of a city."),
    ("What is the capital of France?", "Paris."),
    ("Who is the father of Ada Quillon, the writer born in Lisbon in the year of the great flood?", "A baker."),
]


def _features(tokenizer):
    return [encode_qa(tokenizer, q, a) for q, a in QA]


@pytest.fixture(scope="module")
def taught_lm(tiny_tokenizer):
    """A tiny model that has memorised the first three answers, so its generations differ per prompt."""
    model = build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0)
    batch = pad_batch(_features(tiny_tokenizer)[:3], tiny_tokenizer.pad_token_id)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):
        loss = mean_nll(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                        batch["labels"])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval(), tiny_tokenizer


def test_scoring_matches_a_direct_computation(tiny_lm):
    model, tokenizer = tiny_lm
    feature = _features(tokenizer)[0]
    (stats,) = score_features(model, [feature], tokenizer.eos_token_id, tokenizer.pad_token_id)

    batch = pad_batch([feature], tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"]).logits
    logp, mask = token_logprobs(logits, batch["labels"])
    answer_lp = logp[mask]
    n = int(mask.sum())
    assert stats.n_tokens == n
    assert stats.nll_sum == pytest.approx(-answer_lp.sum().item(), rel=1e-5)
    assert stats.nll_mean == pytest.approx(-answer_lp.mean().item(), rel=1e-5)
    # token-level lists drop the final EOS
    assert len(stats.token_logprobs) == n - 1
    assert stats.token_logprobs == pytest.approx(answer_lp[:-1].tolist(), abs=1e-5)
    targets = batch["labels"][0, 1:][mask[0]]
    greedy = logits[0, :-1][mask[0]].argmax(-1)
    assert stats.token_correct == (greedy == targets)[:-1].tolist()
    full = torch.log_softmax(logits[0, :-1][mask[0]], -1)
    entropy = -(full.exp() * full).sum(-1)
    assert stats.vocab_mean == pytest.approx((-entropy[:-1]).tolist(), abs=1e-4)


def test_batched_scoring_equals_one_at_a_time(tiny_lm):
    model, tokenizer = tiny_lm
    features = _features(tokenizer)
    batched = score_features(model, features, tokenizer.eos_token_id, tokenizer.pad_token_id, batch_size=4)
    for feature, together in zip(features, batched):
        (alone,) = score_features(model, [feature], tokenizer.eos_token_id, tokenizer.pad_token_id)
        assert together.n_tokens == alone.n_tokens
        assert together.nll_mean == pytest.approx(alone.nll_mean, abs=1e-4)
        assert together.token_logprobs == pytest.approx(alone.token_logprobs, abs=1e-4)
        assert together.vocab_var == pytest.approx(alone.vocab_var, abs=1e-4)


def test_left_padding_with_position_ids_gives_the_same_logits(tiny_lm):
    model, tokenizer = tiny_lm
    short, long = (encode_qa(tokenizer, q, a) for q, a in QA[2:4])
    batch = pad_batch([short, long], tokenizer.pad_token_id, side="left")
    with torch.no_grad():
        padded = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       position_ids=position_ids_from_mask(batch["attention_mask"])).logits
        alone = model(input_ids=torch.tensor([short["input_ids"]])).logits
    n = len(short["input_ids"])
    assert torch.allclose(padded[0, -n:], alone[0], atol=1e-4)


def test_batched_generation_equals_one_at_a_time_and_a_manual_greedy_loop(taught_lm):
    model, tokenizer = taught_lm
    prompts = [encode_prompt(tokenizer, q) for q, _ in QA]
    together = greedy_generate(model, tokenizer, prompts, max_new_tokens=40, batch_size=4)
    assert together[:3] == [a for _, a in QA[:3]]  # memorised answers, recited in full
    alone = [greedy_generate(model, tokenizer, [p], max_new_tokens=40)[0] for p in prompts]
    assert together == alone

    ids = list(prompts[3])  # the longest prompt: no padding, no cache
    with torch.no_grad():
        for _ in range(40):
            next_id = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            if next_id == tokenizer.eos_token_id:
                break
            ids.append(next_id)
    assert together[3] == tokenizer.decode(ids[len(prompts[3]):], skip_special_tokens=True).strip()
