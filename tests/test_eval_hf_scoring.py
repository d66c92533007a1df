"""The hf back end's fast scoring paths equal the plain forward pass: the last layer evaluated only where a
token is predicted (Llama-like decoders), packed multi-token choices, grouped-query attention, left
truncation, and the fallback for other architectures. (Parity with lm-eval itself: test_eval_parity.py.)"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

CONTEXTS = [
    "Question: Which drug is a platinum agent?\nA. cisplatin\nB. paclitaxel\nAnswer:",
    "Question: A short one?\nAnswer:",
    "Abstract: The tumour shrank after two cycles of chemotherapy.\nQuestion: Did it?\nAnswer:",
]


def _requests(choices: list[str]) -> list[tuple[str, str]]:
    return [(context, " " + choice) for context in CONTEXTS for choice in choices]


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def tiny(tiny_model):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model).eval()


def _random_model(kind: str, vocab: int):
    """A small randomly initialised model (no download) of another shape or architecture."""
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    torch.manual_seed(0)
    if kind == "gqa":
        config = LlamaConfig(
            vocab_size=vocab,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
        )
    else:
        config = GPT2Config(vocab_size=vocab, n_embd=64, n_layer=2, n_head=4, n_positions=256)
    return AutoModelForCausalLM.from_config(config).eval()


def _both(model, tokenizer, requests, **kwargs):
    """(fast path, plain full forward) results for the same requests."""
    from medtune.evaluate.backends.hf import HFBackend

    fast = HFBackend(model, tokenizer, batch_size=4, **kwargs)
    plain = HFBackend(model, tokenizer, batch_size=4, **kwargs)
    plain._layers = None  # run every layer at every position
    return fast, fast.loglikelihood(requests), plain.loglikelihood(requests)


def _assert_same(fast, plain, atol: float = 1e-5) -> None:
    assert len(fast) == len(plain) > 0
    for a, b in zip(fast, plain, strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=atol)
        assert (a.is_greedy, a.n_tokens) == (b.is_greedy, b.n_tokens)


@pytest.mark.parametrize(
    "choices",
    [["A", "B", "C", "D"], ["cisplatin", "paclitaxel and carboplatin", "no"], ["yes"]],
    ids=["one-token", "multi-token", "single-request"],
)
def test_last_layer_at_scored_positions_equals_full_forward(tiny, tokenizer, choices):
    backend, fast, plain = _both(tiny, tokenizer, _requests(choices))
    assert backend._layers is not None  # the tiny model is a Llama: the trimmed path ran
    _assert_same(fast, plain)


def test_trimmed_path_with_left_truncation(tiny, tokenizer):
    _, fast, plain = _both(tiny, tokenizer, _requests(["A", "paclitaxel and carboplatin"]), max_length=12)
    _assert_same(fast, plain)


def test_grouped_query_attention(tokenizer):
    model = _random_model("gqa", len(tokenizer))
    backend, fast, plain = _both(model, tokenizer, _requests(["A", "B", "cisplatin weekly"]))
    assert backend._layers is not None
    _assert_same(fast, plain)


def test_other_architectures_run_the_whole_decoder(tokenizer):
    model = _random_model("gpt2", len(tokenizer))
    backend, fast, plain = _both(model, tokenizer, _requests(["A", "cisplatin weekly"]))
    assert backend._layers is None
    _assert_same(fast, plain, atol=0)


def test_cpu_batches_follow_a_token_budget(tiny, tokenizer):
    from medtune.evaluate.backends.hf import HFBackend

    backend = HFBackend(tiny, tokenizer, batch_size=16)
    backend.token_budget = 1024
    assert backend._rows_per_batch(100) == 10  # the budget binds before the batch size
    assert backend._rows_per_batch(10) == 16  # ... and the batch size for short rows
    assert backend._rows_per_batch(5000) == 1  # a row longer than the budget still runs
