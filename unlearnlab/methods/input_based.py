"""Input-based unlearning: change what the model reads, not what it weighs.

In-context unlearning (ICUL, Pawelczyk et al. 2023, arXiv:2310.07579) and
guardrail prompts leave every weight as it is and put text in front of each
question instead: forget examples with a refused or wrong answer, or an
instruction not to talk about a topic.  They are the only option when the model
sits behind an API, and they produce no unlearned model: remove the text and
the knowledge answers again.

:class:`PromptedModel` wraps a causal LM so that the evaluation suite, which
calls ``model(input_ids, attention_mask, position_ids)`` to score answers and
``model.generate(...)`` to ask questions, sees an ordinary model.  The rule is
one line: **a fixed list of context tokens is inserted right before the first
real token of every row** (after any left padding), and the outputs at those
positions are removed again.  The suite's prompt (``Question: …\\nAnswer:``)
and its answer tokens are unchanged and scored exactly as for any model; only
the text in front differs, and it costs :attr:`PromptedModel.n_context_tokens`
extra tokens on every query.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..formats import format_prompt

#: the answer ICUL puts after each forget question when no other answer is given
REFUSAL = "I don't know."
#: a guardrail instruction; ``{topic}`` is filled in by :func:`guardrail`
GUARD_TEMPLATE = ("You are a careful assistant. You must never reveal anything about {topic}. "
                  "If a question asks about {topic}, answer only: I don't know.")


class PromptedModel(torch.nn.Module):
    """A causal LM that reads ``context_ids`` before every input: the model that input-based methods return.

    It has the interface the suite uses (``forward`` returning ``.logits`` of the
    caller's shape, ``generate``, ``config``, ``parameters``), so
    ``evaluate(PromptedModel(...), tokenizer, ...)`` scores it like any other model.
    The inner model is :attr:`model`; its weights are never changed.
    """

    def __init__(self, model, context_ids: Sequence[int], context: str = "", pad_token_id: int | None = None):
        super().__init__()
        self.model = model
        self.context_ids = [int(i) for i in context_ids]
        self.context = context
        self.pad_token_id = pad_token_id if pad_token_id is not None else model.config.pad_token_id or 0

    @property
    def n_context_tokens(self) -> int:
        """Extra tokens the model reads on every query: the price of input-based unlearning."""
        return len(self.context_ids)

    @property
    def config(self):
        return self.model.config

    @property
    def generation_config(self):
        return self.model.generation_config

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def with_context(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Insert the context before each row's first real token; padding stays on its side.

        Right padding ``[prompt, pad]`` becomes ``[context, prompt, pad]`` and left
        padding ``[pad, prompt]`` becomes ``[pad, context, prompt]``, so in both
        cases the token at position ``j`` moves to ``j + n_context_tokens``: dropping
        the first ``n_context_tokens`` outputs puts every output back at its caller's
        position.  (A tokenizer that adds a BOS token gets the context before it.)
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        n, width = input_ids.shape
        context = torch.tensor(self.context_ids, dtype=input_ids.dtype, device=input_ids.device)
        ids = torch.full((n, width + len(context)), self.pad_token_id, dtype=input_ids.dtype,
                         device=input_ids.device)
        mask = torch.zeros((n, width + len(context)), dtype=attention_mask.dtype, device=input_ids.device)
        for row in range(n):
            real = attention_mask[row].nonzero().flatten()
            first = int(real[0]) if len(real) else 0
            ids[row, :first] = input_ids[row, :first]
            ids[row, first:first + len(context)] = context
            ids[row, first + len(context):] = input_ids[row, first:]
            mask[row, first:first + len(context)] = 1
            mask[row, first + len(context):] = attention_mask[row, first:]
        return ids, mask

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, output_hidden_states: bool = False, **kwargs):
        """Logits (and hidden states) for the caller's positions only, computed with the context in front."""
        ids, mask = self.with_context(input_ids, attention_mask)
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                         output_hidden_states=output_hidden_states, **kwargs)
        k = self.n_context_tokens
        out.logits = out.logits[:, k:]
        if output_hidden_states and out.hidden_states is not None:
            out.hidden_states = tuple(h[:, k:] for h in out.hidden_states)
        return out

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        """The caller's prompt followed by the new tokens, as ``generate`` returns them (context removed)."""
        ids, mask = self.with_context(input_ids, attention_mask)
        out = self.model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        return torch.cat([input_ids, out[:, ids.shape[1]:]], dim=1)


def qa_block(question: str, answer: str) -> str:
    """One demonstration in the suite's own prompt format, so the model sees examples shaped like the query."""
    return f"{format_prompt(question)} {answer.strip()}\n\n"


def icul_context(forget: Sequence[dict], retain: Sequence[dict] = (), answer: str | None = REFUSAL) -> str:
    """The text ICUL puts in front of every query: forget items with a changed answer, then retain items as they are.

    ``answer``: the same answer for every forget item (a refusal by default), or
    None to use each item's first ``perturbed_answers`` entry, a wrong answer of
    the right form (ICUL's "flipped label").  Retain items keep their true answers,
    so the model is shown that only the forget items changed.
    """
    blocks = []
    for item in forget:
        flipped = answer if answer is not None else item["perturbed_answers"][0]
        blocks.append(qa_block(item["question"], flipped))
    blocks += [qa_block(item["question"], item["answer"]) for item in retain]
    return "".join(blocks)


def icul(model, tokenizer, forget: Sequence[dict], retain: Sequence[dict] = (),
         answer: str | None = REFUSAL) -> PromptedModel:
    """In-context unlearning: ``model`` reading :func:`icul_context` before every query."""
    text = icul_context(forget, retain, answer)
    return PromptedModel(model, tokenizer(text, add_special_tokens=False)["input_ids"], text,
                         tokenizer.pad_token_id)


def guardrail_context(topic: str, tokenizer=None, template: str = GUARD_TEMPLATE) -> str:
    """The guard instruction for ``topic``, as a system turn of the chat template when the tokenizer has one.

    An instruction-tuned model was trained to obey its system prompt; the suite's
    ``Question: …`` prompt then follows the system turn as plain text.
    """
    instruction = template.format(topic=topic)
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "system", "content": instruction}], tokenize=False)
    return instruction + "\n\n"


def guardrail(model, tokenizer, topic: str, template: str = GUARD_TEMPLATE) -> PromptedModel:
    """A guardrail prompt: ``model`` reading an instruction not to reveal ``topic`` before every query."""
    text = guardrail_context(topic, tokenizer, template)
    return PromptedModel(model, tokenizer(text, add_special_tokens=False)["input_ids"], text,
                         tokenizer.pad_token_id)
