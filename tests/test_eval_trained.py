"""Forget quality separates the trained target from the retrained model (trains both tiny models)."""
import pytest

from unlearnlab import models, worlds
from unlearnlab.eval import evaluate


@pytest.mark.slow
def test_target_has_clearly_worse_forget_quality_than_the_retain_only_model():
    world = worlds.load("authors")
    retrained_model, tokenizer = models.retrained("tiny", world, forget="forget10")
    retrained = evaluate(retrained_model, tokenizer, world, name="retrained")  # forget10: the world's default
    target_model, _ = models.target("tiny", world)
    target = evaluate(target_model, tokenizer, world, retrained=retrained, retrained_model=retrained_model,
                      name="target")

    assert target.aggregates["forget_quality"] < 1e-3
    # the target has memorised the forget authors; the retrained model answers them no better than unseen ones
    assert target.aggregates["forget_rougeL_recall"] > retrained.aggregates["forget_rougeL_recall"] + 0.2
    assert target.aggregates["mia_auc_loss"] > 0.95
    assert target.aggregates["privleak"] < -50
