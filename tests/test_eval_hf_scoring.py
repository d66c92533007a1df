"""The hf back end's fast scoring paths equal the plain forward pass: the last layer evaluated only where a
token is predicted (Llama-like decoders), packed multi-token choices, grouped-query attention, left
truncation, and the fallback for other architectures. (Parity with lm-eval itself: test_eval_parity.py.)"""

from __future__ import annotations

import time

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


def _many_requests(n_items: int) -> list[tuple[str, str]]:
    """Items of varied lengths (so batches differ in width), each with one- and multi-token choices."""
    return [
        (f"Question: case {i}: {'the patient reports pain. ' * (i % 7)}Which agent?\nAnswer:", " " + choice)
        for i in range(n_items)
        for choice in ("A", "B", "cisplatin weekly")
    ]


def test_cpu_workers_give_the_results_of_one_thread(tiny, tokenizer):
    from medtune.evaluate.backends.hf import HFBackend

    requests = _many_requests(40)
    threads_before = torch.get_num_threads()
    serial = HFBackend(tiny, tokenizer, batch_size=4, workers=1)
    parallel = HFBackend(tiny, tokenizer, batch_size=4, workers=3)
    assert parallel._cpu_workers(10) == 3 and serial._cpu_workers(10) == 1
    assert parallel._cpu_workers(2) == 2  # never more workers than batches
    one = serial.loglikelihood(requests)
    many = parallel.loglikelihood(requests)
    assert torch.get_num_threads() == threads_before  # the thread count is restored
    _assert_same(many, one)
    # each batch is computed alike whichever worker runs it: a second parallel run is bit-identical
    assert [r.logprob for r in parallel.loglikelihood(requests)] == [r.logprob for r in many]


def test_default_workers_follow_the_torch_thread_count(tiny, tokenizer):
    from medtune.evaluate.backends.hf import HFBackend

    backend = HFBackend(tiny, tokenizer)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert backend._cpu_workers(100) == 2
        torch.set_num_threads(1)
        assert backend._cpu_workers(100) == 1
    finally:
        torch.set_num_threads(before)


def test_a_failing_batch_stops_scoring_with_its_error(tiny, tokenizer):
    from medtune.evaluate.backends.hf import HFBackend

    backend = HFBackend(tiny, tokenizer, batch_size=2, workers=2)
    calls = []

    def broken(rows, results):
        calls.append(len(rows))
        time.sleep(0.2)
        raise ValueError("boom")

    backend._score_batch = broken
    before = torch.get_num_threads()
    with pytest.raises(ValueError, match="boom"):
        backend.loglikelihood(_many_requests(40))  # 20 batches of 2 rows
    assert torch.get_num_threads() == before
    assert 1 <= len(calls) < 20  # the batches not yet started were dropped


@pytest.mark.parametrize("special", [True, False])
def test_direct_fast_tokenizer_equals_the_tokenizer_call(tokenizer, special):
    from medtune.evaluate.backends.hf import HFBackend

    texts = [
        "Question: Is 5-FU given with leucovorin?\nAnswer: yes",
        "  leading spaces and trailing  ",
        tokenizer.bos_token + " starts with the BOS text",
        "émigré naïve café — ünïcode",
        "",
    ]
    backend = HFBackend(_random_model("gqa", len(tokenizer)), tokenizer)
    expected = [list(ids) for ids in tokenizer(texts, add_special_tokens=special)["input_ids"]]
    assert backend._tokenize(texts, special) == expected
    # a tokenizer left with padding switched on is called the ordinary way (no padded ids)
    tokenizer(texts[:2], padding=True)
    assert backend._tokenize(texts, special) == expected
