"""Forget quality separates the trained target from the retain-only reference (trains both tiny models)."""
import pytest

from unlearnlab import models, worlds
from unlearnlab.eval import evaluate


@pytest.mark.slow
def test_target_has_clearly_worse_forget_quality_than_the_retain_only_model():
    world = worlds.load("authors")
    reference_model, tokenizer = models.reference("tiny", world, forget="forget10")
    reference = evaluate(reference_model, tokenizer, world, forget="forget10", name="reference")
    target_model, _ = models.target("tiny", world)
    target = evaluate(target_model, tokenizer, world, forget="forget10", reference=reference,
                      reference_model=reference_model, name="target")

    assert target.aggregates["forget_quality"] < 1e-3
    # the target has memorised the forget authors; the reference answers them no better than unseen ones
    assert target.aggregates["forget_rougeL_recall"] > reference.aggregates["forget_rougeL_recall"] + 0.2
    assert target.aggregates["mia_auc_loss"] > 0.95
    assert target.aggregates["privleak"] < -50
