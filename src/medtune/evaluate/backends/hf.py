"""The `hf` back end: a local or hub transformers causal LM, optionally with a PEFT adapter (or merged).

Log-likelihood scoring is where an evaluation spends its time, so it is organised around the shape of
multiple-choice work:

- Requests that share a context are scored together: the context is run once, and every choice's tokens
  are appended to the same row, each choice attending to the context and to itself only (a block mask,
  with position ids restarting after the context). A single-token choice costs nothing beyond the context.
- Rows are sorted by length and batched, so padding stays small; the LM head is applied only at the
  positions that predict a continuation token, not at every position of every row.
- For Llama-family decoders the last layer, too, runs only at those positions: every position needs the
  last layer's keys and values, but its query, attention output, MLP and final norm matter only where a
  token is predicted (for one-token choices: one position per item). Exact math, same modules and weights;
  other architectures run the whole decoder.
- Every string is tokenized once, in batched calls straight to the fast tokenizer, on its thread pool.
- On a CPU the batches are shared by worker threads that each run single-threaded tensor ops (one worker
  per torch thread), instead of one batch at a time split over the threads: a small model's matmuls and
  element-wise passes are too short to scale well across cores, whole batches side by side do better
  (measured 1.11x wall, 1.19x less CPU on 2 cores). Each batch is computed the same way whichever worker
  runs it, so results do not depend on the scheduling.

Token boundaries follow lm-evaluation-harness exactly (trailing context whitespace moves to the
continuation; the continuation's tokens are those of `encode(context + continuation)` after
`len(encode(context))`; long inputs are left-truncated to the model's length), so per-item log-likelihoods
equal lm-eval's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medtune.errors import MedtuneError
from medtune.evaluate.backends.base import (
    BackendInfo,
    Context,
    GenerationArgs,
    LogLikelihood,
    truncate_at_stops,
)
from medtune.models.anatomy import attention_window, llama_like_layers, split_decoder_head
from medtune.quiet_libs import tokenizer_threads

DEFAULT_MAX_LENGTH = 2048  # lm-eval's default when neither config nor tokenizer names a length
TOKENIZER_INFINITY = 1000000000000000019884624838656
CPU_TOKEN_BUDGET = 1024  # tokens per forward pass on a CPU (see HFBackend._rows_per_batch)


@dataclass
class _Group:
    """Requests sharing one context: one row (context + every choice's tokens but the last)."""

    ctx: list[int]
    conts: list[list[int]]
    request_ids: list[int]

    @property
    def row_len(self) -> int:
        return len(self.ctx) + sum(len(c) - 1 for c in self.conts)


def resolve_max_length(model: Any, tokenizer: Any) -> int:
    """The model's context length, resolved the way lm-evaluation-harness resolves it."""
    config = getattr(model, "config", None)
    cfg = getattr(config, "text_config", None) or config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(cfg, attr, None)
        if value is not None:
            return int(value)
    model_max = getattr(tokenizer, "model_max_length", None)
    if model_max is not None and model_max != TOKENIZER_INFINITY:
        return int(model_max)
    return DEFAULT_MAX_LENGTH


class HFBackend:
    """Scores and generates with an in-memory transformers model and its tokenizer."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        info: BackendInfo | None = None,
        batch_size: int = 16,
        max_length: int | None = None,
        workers: int | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.batch_size = batch_size
        self.token_budget = CPU_TOKEN_BUDGET
        self.workers = workers  # CPU scoring threads; None: one per torch thread
        self.max_length = max_length or resolve_max_length(model, tokenizer)
        self.info = info or BackendInfo("hf", getattr(model, "name_or_path", "model"))
        self.device = next(model.parameters()).device
        self._parts = split_decoder_head(model)
        self._layers = llama_like_layers(model, self._parts[0]) if self._parts is not None else None
        self._bos_text = self._decode_prefix()

    # ------------------------------------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        model: str,
        *,
        adapter: str | Path | None = None,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 16,
        workers: int | None = None,
        trust_remote_code: bool = False,
    ) -> HFBackend:
        """Load a local model directory or hub id (hub only when named), plus an optional PEFT adapter."""
        from transformers import AutoTokenizer

        from medtune.config import ModelConfig
        from medtune.models.loading import is_local, load_model, model_identity, resolve_device

        cfg = ModelConfig(
            name_or_path=model,
            revision=revision,
            dtype=dtype,
            device=device,
            trust_remote_code=trust_remote_code,
        )
        if is_local(model) and not Path(model).exists():
            raise MedtuneError(
                f"--model: expected a model directory or a hub id (org/name), found {model} (no such path)"
            )
        resolved = resolve_device(device)
        tokenizer_source = model
        if adapter is not None:
            adapter = Path(adapter)
            if not (adapter / "adapter_config.json").is_file():
                raise MedtuneError(
                    f"--adapter: expected a PEFT adapter directory (adapter_config.json), found {adapter}"
                )
            if (adapter / "tokenizer_config.json").is_file():
                tokenizer_source = str(adapter)  # training saves the tokenizer (and chat template) beside it
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                tokenizer_source,
                revision=revision if tokenizer_source == model else None,
                trust_remote_code=trust_remote_code,
                local_files_only=is_local(tokenizer_source),
            )
        except OSError as exc:
            raise MedtuneError(f"cannot load the tokenizer of {tokenizer_source}: {exc}") from None
        loaded = load_model(cfg, resolved)
        identity: dict[str, Any] = {"model": model_identity(cfg)}
        name = model
        if adapter is not None:
            from peft import PeftModel

            from medtune.artifacts import digest_of

            loaded = PeftModel.from_pretrained(loaded, str(adapter))
            loaded.eval()
            identity["adapter"] = digest_of(adapter)
            name = f"{model} + {adapter}"
        return cls(
            loaded,
            tokenizer,
            info=BackendInfo("hf", name, identity),
            batch_size=batch_size,
            workers=workers,
        )

    @contextmanager
    def adapter_disabled(self) -> Iterator[HFBackend]:
        """The same backend with its PEFT adapter switched off (the base model), for base-vs-tuned runs."""
        with self.model.disable_adapter():
            yield self

    # ----------------------------------------------------------------------------------------- tokenizing

    def _decode_prefix(self) -> str | None:
        try:
            return self.tokenizer.decode([self.prefix_token_id])
        except Exception:  # pragma: no cover - exotic tokenizers
            return None

    @property
    def prefix_token_id(self) -> int:
        """Conditioning token for an empty context: BOS, else EOS (as lm-eval)."""
        tok = self.tokenizer
        return tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id

    def render(self, context: Context) -> tuple[str, bool]:
        """(text, is_chat): chat messages rendered with the model's chat template, strings unchanged."""
        if isinstance(context, str):
            return context, False
        if getattr(self.tokenizer, "chat_template", None) is None:
            raise MedtuneError(
                f"{self.info.name}: this task sends chat messages but the tokenizer has no chat template",
                hint="use an instruct/chat model, or a task whose prompt is plain text",
            )
        text = self.tokenizer.apply_chat_template(context, tokenize=False, add_generation_prompt=True)
        return text, True

    def _encode_many(self, texts: list[str], chat: list[bool]) -> list[list[int]]:
        """Token ids of many strings in two batched calls: with the tokenizer's special tokens (plain text,
        as lm-eval's tok_encode) or without (chat renderings already hold them; strings starting with
        BOS)."""
        out: list[list[int] | None] = [None] * len(texts)
        is_plain = [not chat[i] and not self._starts_with_bos(t) for i, t in enumerate(texts)]
        plain = [i for i, flag in enumerate(is_plain) if flag]
        raw = [i for i, flag in enumerate(is_plain) if not flag]
        for indices, special in ((plain, True), (raw, False)):
            for i, row in zip(indices, self._tokenize([texts[i] for i in indices], special), strict=True):
                out[i] = row
        return out  # type: ignore[return-value]

    def _tokenize(self, texts: list[str], special: bool) -> list[list[int]]:
        """Token ids of each text, as `tokenizer(texts)` gives them; a fast tokenizer is called directly
        (no offsets, no BatchEncoding) on its thread pool."""
        if not texts:
            return []
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        direct = backend is not None and backend.padding is None and backend.truncation is None
        with tokenizer_threads():
            if direct:
                return [enc.ids for enc in backend.encode_batch_fast(texts, add_special_tokens=special)]
            return [list(ids) for ids in self.tokenizer(texts, add_special_tokens=special)["input_ids"]]

    def _starts_with_bos(self, text: str) -> bool:
        return bool(self._bos_text) and text.startswith(self._bos_text)

    def encode_requests(self, requests: list[tuple[Context, str]]) -> list[tuple[list[int], list[int]]]:
        """(context_ids, continuation_ids) per request, split exactly as lm-evaluation-harness splits them."""
        contexts: list[str] = []
        chats: list[bool] = []
        conts: list[str] = []
        for context, continuation in requests:
            text, is_chat = self.render(context)
            n_spaces = len(text) - len(text.rstrip())
            if n_spaces and text.strip():
                continuation = text[-n_spaces:] + continuation
                text = text[:-n_spaces]
            contexts.append(text)
            chats.append(is_chat)
            conts.append(continuation)
        unique_ctx = list(dict.fromkeys(zip(contexts, chats, strict=True)))
        ctx_index = {key: i for i, key in enumerate(unique_ctx)}
        nonempty = [i for i, (text, _) in enumerate(unique_ctx) if text]
        ctx_ids: list[list[int]] = [[] for _ in unique_ctx]
        encoded = self._encode_many(
            [unique_ctx[i][0] for i in nonempty], [unique_ctx[i][1] for i in nonempty]
        )
        for i, ids in zip(nonempty, encoded, strict=True):
            ctx_ids[i] = ids
        whole_idx = [i for i, text in enumerate(contexts) if text]
        whole = self._encode_many([contexts[i] + conts[i] for i in whole_idx], [chats[i] for i in whole_idx])
        whole_of = dict(zip(whole_idx, whole, strict=True))
        empty_idx = [i for i, text in enumerate(contexts) if not text]
        bare = self._tokenize([conts[i] for i in empty_idx], False)
        bare_of = dict(zip(empty_idx, bare, strict=True))
        out = []
        for i in range(len(requests)):
            if i in bare_of:  # empty context: condition on the prefix token (BOS/EOS), as lm-eval
                cont = list(bare_of[i])
                pair = ([self.prefix_token_id], cont)
                if cont and cont[0] == self.prefix_token_id:
                    pair = (cont[:1], cont[1:])
                out.append(pair)
                continue
            ctx = ctx_ids[ctx_index[(contexts[i], chats[i])]]
            out.append((ctx, whole_of[i][len(ctx) :]))
        return out

    # ----------------------------------------------------------------------------------------- scoring

    def loglikelihood(self, requests: list[tuple[Context, str]]) -> list[LogLikelihood]:
        return self.loglikelihood_tokens(self.encode_requests(requests))

    def loglikelihood_tokens(self, pairs: list[tuple[list[int], list[int]]]) -> list[LogLikelihood]:
        """Score (context_ids, continuation_ids) pairs; pairs with the same context share one forward row."""
        for ctx, cont in pairs:
            if not cont:
                raise MedtuneError("log-likelihood request with an empty continuation (nothing to score)")
            if not ctx:
                raise MedtuneError("log-likelihood request with an empty context after tokenization")
        groups: dict[tuple[int, ...], _Group] = {}
        for i, (ctx, cont) in enumerate(pairs):
            if len(ctx) + len(cont) > self.max_length + 1:
                # Too long: left-truncate (context + continuation), exactly as lm-eval does. Requests whose
                # truncated contexts are equal (e.g. every one-token choice of an item) still share a row.
                seq = (ctx + cont)[-(self.max_length + 1) :]
                ctx = seq[: len(seq) - len(cont)]
            group = groups.get(tuple(ctx))
            if group is None:
                groups[tuple(ctx)] = _Group(list(ctx), [cont], [i])
            else:
                group.conts.append(cont)
                group.request_ids.append(i)
        rows: list[_Group] = []
        for group in groups.values():
            if group.row_len <= self.max_length:
                rows.append(group)
            else:  # the packed row would exceed the model: one row per continuation instead
                rows.extend(
                    _Group(group.ctx, [c], [r]) for c, r in zip(group.conts, group.request_ids, strict=True)
                )
        rows.sort(key=lambda g: -g.row_len)
        batches: list[list[_Group]] = []
        start = 0
        while start < len(rows):
            count = self._rows_per_batch(rows[start].row_len)
            batches.append(rows[start : start + count])
            start += count
        results: list[LogLikelihood | None] = [None] * len(pairs)
        self._run_batches(batches, lambda batch: self._score_batch(batch, results))
        return results  # type: ignore[return-value]

    def _cpu_workers(self, n_batches: int) -> int:
        """Threads that score batches side by side: 1 on an accelerator, else `workers` (default: the torch
        thread count), never more than there are batches."""
        import torch

        if self.device.type != "cpu":
            return 1
        wanted = self.workers if self.workers is not None else torch.get_num_threads()
        return max(1, min(wanted, n_batches))

    def _run_batches(self, batches: list[list[_Group]], score: Callable[[list[_Group]], None]) -> None:
        """Score every batch, in order on one thread or shared by CPU workers with single-threaded ops."""
        workers = self._cpu_workers(len(batches))
        if workers == 1:
            for batch in batches:
                score(batch)
            return
        with _single_threaded_ops(), ThreadPoolExecutor(workers, thread_name_prefix="medtune-score") as pool:
            # longest rows first: the slowest batches start earliest; on an error map() cancels the batches
            # not yet started
            for _ in pool.map(score, batches):
                pass

    def _rows_per_batch(self, width: int) -> int:
        """Rows in a batch whose longest row has `width` tokens (rows come sorted longest first).

        On a GPU: up to `batch_size` rows of the longest length, more when they are short (a budget of
        batch_size x 256 tokens), never more than 4 x batch_size. On a CPU the budget is CPU_TOKEN_BUDGET
        tokens whatever the batch size: a tiny model's layers spend ~40% of their time in element-wise passes
        over the activations, which run markedly faster while a batch's activations stay in the cores'
        caches.
        """
        width = max(1, width)
        if self.device.type == "cpu":
            return max(1, min(self.batch_size, self.token_budget // width))
        floor = self.batch_size if width <= 256 else 1
        return max(1, min(4 * self.batch_size, max(floor, self.batch_size * 256 // width)))

    def _forward_hidden(self, input_ids: Any, attention_mask: Any, position_ids: Any) -> tuple[Any, bool]:
        """(hidden states, True) when the LM head can be applied separately, else (logits, False)."""
        kwargs = {"input_ids": input_ids, "use_cache": False}
        if attention_mask is not None:
            kwargs["attention_mask"] = attention_mask
            kwargs["position_ids"] = position_ids
        if self._parts is not None:
            decoder, _ = self._parts
            return decoder(**kwargs).last_hidden_state, True
        return self.model(**kwargs).logits, False

    def _states_at(
        self, ids: Any, mask: Any, pos: Any, rows: list[int], positions: list[int]
    ) -> tuple[Any, bool]:
        """Final hidden states (True) or logits (False) at each (row, position), in the order given."""
        import torch

        if self._can_trim(ids.shape[1]):
            return self._trimmed_states_at(ids, mask, pos, rows, positions), True
        out, is_hidden = self._forward_hidden(ids, mask, pos)
        index = (torch.tensor(rows, device=self.device), torch.tensor(positions, device=self.device))
        return out[index], is_hidden

    def _can_trim(self, width: int) -> bool:
        """Llama-like decoder in eval mode (no dropout), and rows no wider than any sliding window."""
        if self._layers is None or self.model.training:
            return False
        window = attention_window(self.model)
        return window is None or window >= width

    def _trimmed_states_at(self, ids: Any, mask: Any, pos: Any, rows: list[int], positions: list[int]) -> Any:
        """The last layer evaluated only where a token is predicted (keys and values everywhere)."""
        import torch

        from medtune.models.partial import causal_allowed, last_layer_at, run_until_last_layer

        hidden, kwargs = run_until_last_layer(lambda: self._forward_hidden(ids, mask, pos), self._layers)
        n, width = ids.shape
        per_row, slots = _query_slots(rows, positions, n)
        m = max(len(p) for p in per_row)
        # pad each row's query positions with its first one (a valid position; the result is unused)
        query_pos = torch.tensor([p + [p[0]] * (m - len(p)) for p in per_row], device=self.device)
        if mask is None:  # plain causal rows (right padding: pads come after every query position)
            allowed = causal_allowed(query_pos, width)
        else:  # the packed block mask's rows at the query positions
            allowed = mask[:, 0].gather(1, query_pos[:, :, None].expand(n, m, width))[:, None]
        decoder = self._parts[0]
        out = last_layer_at(
            self._layers[-1], decoder.norm, hidden, query_pos, allowed, kwargs["position_embeddings"]
        )
        return out[torch.tensor(rows, device=self.device), torch.tensor(slots, device=self.device)]

    def _score_batch(self, rows: list[_Group], results: list[LogLikelihood | None]) -> None:
        import torch

        width = max(g.row_len for g in rows)
        n = len(rows)
        ids = torch.full((n, width), self.tokenizer.pad_token_id or 0, dtype=torch.long)
        packed = any(len(g.conts) > 1 and any(len(c) > 1 for c in g.conts) for g in rows)
        seg = torch.full((n, width), -2, dtype=torch.long) if packed else None
        pos = torch.zeros((n, width), dtype=torch.long) if packed else None
        # (row, position) of each scored token, its target id, and the request it belongs to
        gather_rows: list[int] = []
        gather_pos: list[int] = []
        targets: list[int] = []
        owners: list[tuple[int, int]] = []  # (request id, number of tokens)
        for r, group in enumerate(rows):
            ctx_len = len(group.ctx)
            row = list(group.ctx)
            if packed:
                seg[r, :ctx_len] = -1
                pos[r, :ctx_len] = torch.arange(ctx_len)
            for j, (cont, request_id) in enumerate(zip(group.conts, group.request_ids, strict=True)):
                start = len(row)
                row.extend(cont[:-1])
                if packed and len(cont) > 1:
                    seg[r, start : len(row)] = j
                    pos[r, start : len(row)] = torch.arange(ctx_len, ctx_len + len(cont) - 1)
                predict_at = [ctx_len - 1, *range(start, start + len(cont) - 1)]
                gather_rows.extend([r] * len(cont))
                gather_pos.extend(predict_at)
                targets.extend(cont)
                owners.append((request_id, len(cont)))
            ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
        ids = ids.to(self.device)
        mask = None
        if packed:
            seg = seg.to(self.device)
            causal = torch.ones(width, width, dtype=torch.bool, device=self.device).tril()
            same = (seg[:, None, :] == -1) | (seg[:, None, :] == seg[:, :, None])
            mask = (causal[None] & same)[:, None]
            pos = pos.to(self.device)
        with torch.inference_mode():
            picked, is_hidden = self._states_at(ids, mask, pos, gather_rows, gather_pos)
            logits = self._parts[1](picked) if is_hidden else picked
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            target = torch.tensor(targets, device=self.device)
            token_lp = logprobs.gather(1, target[:, None]).squeeze(1)
            greedy = logprobs.argmax(dim=-1) == target
        token_lp = token_lp.tolist()
        greedy = greedy.tolist()
        offset = 0
        for request_id, count in owners:
            lp = sum(token_lp[offset : offset + count]) if count > 1 else token_lp[offset]
            # lm-eval sums in float32 on the device; a Python sum of the same values agrees to ~1e-7.
            results[request_id] = LogLikelihood(lp, all(greedy[offset : offset + count]), count)
            offset += count

    def loglikelihood_rolling(self, texts: list[str]) -> list[tuple[float, int]]:
        """Whole-text log-likelihood in disjoint windows of the model's length (lm-eval's rolling scheme)."""
        encoded = self._tokenize(texts, False)
        pairs: list[tuple[list[int], list[int]]] = []
        owners: list[int] = []
        for i, tokens in enumerate(encoded):
            for ctx, cont in rolling_windows(list(tokens), self.prefix_token_id, self.max_length):
                pairs.append((ctx, cont))
                owners.append(i)
        scores = self.loglikelihood_tokens(pairs) if pairs else []
        totals = [0.0] * len(texts)
        counts = [0] * len(texts)
        for owner, score in zip(owners, scores, strict=True):
            totals[owner] += score.logprob
            counts[owner] += score.n_tokens
        return list(zip(totals, counts, strict=True))

    # ----------------------------------------------------------------------------------------- generation

    def generate_until(self, requests: list[tuple[Context, GenerationArgs]]) -> list[str]:
        """Greedy generation in length-sorted, left-padded batches; cut at stop sequences."""
        import torch

        outputs = [""] * len(requests)
        if not requests:
            return outputs
        rendered = [self.render(context) for context, _ in requests]
        encoded = self._encode_many([t for t, _ in rendered], [c for _, c in rendered])
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        by_args: dict[GenerationArgs, list[int]] = {}
        for i, (_, args) in enumerate(requests):
            by_args.setdefault(args, []).append(i)
        pad = self.tokenizer.pad_token_id
        for args, indices in by_args.items():
            keep = max(1, self.max_length - args.max_new_tokens)
            prompts = {i: encoded[i][-keep:] for i in indices}  # left-truncate over-long prompts
            order = sorted(indices, key=lambda i: len(prompts[i]))
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                width = max(len(prompts[i]) for i in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                attn = torch.zeros((len(batch), width), dtype=torch.long)
                for r, i in enumerate(batch):
                    p = prompts[i]
                    ids[r, width - len(p) :] = torch.tensor(p, dtype=torch.long)
                    attn[r, width - len(p) :] = 1
                with torch.inference_mode():
                    out = self.model.generate(
                        input_ids=ids.to(self.device),
                        attention_mask=attn.to(self.device),
                        max_new_tokens=args.max_new_tokens,
                        do_sample=False,
                        eos_token_id=eos,
                        pad_token_id=pad,
                    )
                texts = self.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
                for i, text in zip(batch, texts, strict=True):
                    outputs[i] = truncate_at_stops(text, args.until).strip()
        return outputs

    # ----------------------------------------------------------------------------------------- training loss

    def completion_nll(self, pairs: list[tuple[Context, str]]) -> list[tuple[float, int]]:
        """Teacher-forced (nll_sum, tokens) of each answer + EOS given its prompt, tokenized exactly as
        training tokenizes (prompt and completion separately), so eval loss is comparable with the
        training curve."""
        prompts = [self.render(context)[0] for context, _ in pairs]
        prompt_ids = self._tokenize(prompts, False)
        answers = self._tokenize([a for _, a in pairs], False)
        eos = self.tokenizer.eos_token_id
        scored = self.loglikelihood_tokens(
            [(list(p), [*list(a), eos]) for p, a in zip(prompt_ids, answers, strict=True)]
        )
        return [(-s.logprob, s.n_tokens) for s in scored]


@contextmanager
def _single_threaded_ops() -> Iterator[None]:
    """Torch ops run on one thread each inside the block (worker threads bring their own parallelism);
    the thread count is restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _query_slots(rows: list[int], positions: list[int], n_rows: int) -> tuple[list[list[int]], list[int]]:
    """Each row's distinct query positions (first-seen order), and each (row, position)'s slot in its row:
    every choice of an item is predicted from the same last context position, computed once."""
    per_row: list[dict[int, int]] = [{} for _ in range(n_rows)]
    slots = [per_row[r].setdefault(p, len(per_row[r])) for r, p in zip(rows, positions, strict=True)]
    return [list(p) for p in per_row], slots


def rolling_windows(tokens: list[int], prefix_token: int, max_len: int) -> list[tuple[list[int], list[int]]]:
    """Disjoint (context, continuation) windows covering every token once (lm-eval's rolling windows with
    context_len=1): the first is conditioned on the prefix token, each later one on the token before it."""
    if not tokens:
        return []
    windows = []
    first = min(max_len, len(tokens))
    windows.append(([prefix_token, *tokens[: first - 1]], tokens[:first]))
    predicted = first
    while predicted < len(tokens):
        size = min(len(tokens) - predicted, max_len)
        end = predicted + size
        ctx = tokens[max(0, end - max_len - 1) : end - 1]
        windows.append((ctx, tokens[end - size : end]))
        predicted += size
    # make disjoint: the context keeps only what precedes the predicted tokens
    return [(ctx[: len(ctx) - (len(cont) - 1)], cont) for ctx, cont in windows]
