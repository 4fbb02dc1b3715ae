"""The linear probe: shapes and labels of the states, and AUCs on data with and without a readable signal."""
import numpy as np
import pytest

from unlearnlab.attacks import choice_states, probe_auc

ITEMS = [{"question": f"Which colour is thing {i}?", "choices": ["red", "blue", "green", "gold"], "answer": i % 4}
         for i in range(6)]


def test_choice_states_give_one_row_per_option_with_its_label_and_item(tiny_lm):
    model, tokenizer = tiny_lm
    states, labels, groups = choice_states(model, tokenizer, ITEMS, layer=-1, batch_size=5)
    assert states.shape == (24, model.config.hidden_size)
    assert labels.tolist() == [int(k == i % 4) for i in range(6) for k in range(4)]
    assert groups.tolist() == [i for i in range(6) for _ in range(4)]
    # batching does not change a row: the last real token is found under right padding
    single, _, _ = choice_states(model, tokenizer, ITEMS[:1], layer=-1, batch_size=1)
    np.testing.assert_allclose(states[:4], single, rtol=1e-4, atol=1e-5)


def test_probe_reads_a_planted_signal_and_not_noise():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), 4)
    labels = np.tile([1, 0, 0, 0], 40)
    noise = rng.normal(size=(160, 8))
    assert abs(probe_auc(noise, labels, groups) - 0.5) < 0.15
    signal = noise.copy()
    signal[:, 0] += 3 * labels
    assert probe_auc(signal, labels, groups) > 0.95
    with pytest.raises(ValueError, match="fewer folds"):
        probe_auc(noise[:12], labels[:12], groups[:12])
