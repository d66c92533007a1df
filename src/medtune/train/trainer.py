"""The SFT trainer: transformers.Trainer whose loss touches the LM head only where a label is trained.

Prompt positions carry label -100 and contribute nothing to the loss, yet a stock causal-LM forward projects
every position onto the vocabulary. Here the decoder's hidden states are gathered at the trained positions
first, then projected: the same loss, a fraction of the LM-head work and memory (the head is a large share
of the compute for models with 32k-150k vocabularies). The same holds one layer down: after the last
attention nothing mixes positions, so for Llama-family decoders the last layer's queries, attention output,
MLP and final norm run only at the trained positions (keys and values everywhere); for other decoders its
MLP does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from transformers import Trainer, TrainerCallback

from medtune.data.instruction import IGNORE_INDEX
from medtune.models.anatomy import attention_window, llama_like_layers, split_decoder_head
from medtune.models.fast_norm import fast_rms_norms
from medtune.models.partial import causal_allowed, last_layer_at, run_until_last_layer, selected_positions


def _right_padded_only(inputs: dict[str, torch.Tensor]) -> bool:
    """True when the attention mask only pads on the right (each row is 1...1 0...0) and positions are
    implicit, so the model would number positions the same without it."""
    mask = inputs.get("attention_mask")
    if mask is None or "position_ids" in inputs or mask.dim() != 2:
        return False
    return bool((mask[:, 1:] <= mask[:, :-1]).all())


@contextmanager
def _last_mlp_only_at(decoder: torch.nn.Module, rows: torch.Tensor) -> Iterator[None]:
    """Run the last decoder layer's MLP only at `rows` (a [batch, seq] mask), zeros elsewhere.

    After the last attention nothing mixes positions, so the final hidden state of a position that carries
    no loss is never used: its MLP work (about two thirds of a layer's matmuls, forward and backward) is
    skipped. Off under gradient checkpointing, whose backward re-runs the forward after these hooks are gone,
    and for mixture-of-experts blocks.
    """
    layers = getattr(decoder, "layers", None)
    mlp = getattr(layers[-1], "mlp", None) if layers else None
    mixture = mlp is not None and hasattr(mlp, "experts")  # MoE blocks also return router logits per row
    if mlp is None or mixture or getattr(decoder, "gradient_checkpointing", False) or bool(rows.all()):
        yield
        return

    def gather(_module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (args[0][rows], *args[1:])

    def scatter(_module: torch.nn.Module, _args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
        full = output.new_zeros((*rows.shape, output.shape[-1]))
        return full.masked_scatter(rows.unsqueeze(-1), output)

    handles = [mlp.register_forward_pre_hook(gather), mlp.register_forward_hook(scatter)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _can_trim_last_layer(model: torch.nn.Module, decoder: torch.nn.Module, inputs: dict[str, Any]) -> bool:
    """The last layer may run at trained positions only: a Llama-family decoder, plain causal rows (no mask
    left after `_right_padded_only`), no sliding window narrower than the rows, no attention dropout, and
    no gradient checkpointing (whose backward re-runs layers through their stock forward)."""
    if "attention_mask" in inputs or "position_ids" in inputs or "input_ids" not in inputs:
        return False
    if getattr(decoder, "gradient_checkpointing", False) or llama_like_layers(model, decoder) is None:
        return False
    attn = decoder.layers[-1].self_attn
    if model.training and getattr(attn, "attention_dropout", 0.0):
        return False
    window = attention_window(model)
    return window is None or window >= inputs["input_ids"].shape[1]


def _trained_states(decoder: torch.nn.Module, inputs: dict[str, Any], rows: torch.Tensor) -> torch.Tensor:
    """Final hidden states at the `rows` positions ([batch, seq] mask), in row-major order, with the last
    layer evaluated only there."""
    layers = decoder.layers
    hidden, kwargs = run_until_last_layer(lambda: decoder(**inputs, use_cache=False), layers)
    query_pos, valid = selected_positions(rows)
    allowed = causal_allowed(query_pos, hidden.shape[1])
    out = last_layer_at(layers[-1], decoder.norm, hidden, query_pos, allowed, kwargs["position_embeddings"])
    return out[valid]  # positions come in order within each row: the order of hidden[rows]


def _trained_logits(model: torch.nn.Module, inputs: dict[str, Any], keep: torch.Tensor) -> torch.Tensor:
    """Logits at the trained positions (`keep`: [batch, seq - 1]), in row-major order."""
    distributed = isinstance(model, torch.nn.parallel.DistributedDataParallel)
    parts = None if distributed else split_decoder_head(model)
    if parts is None:
        return model(**inputs, use_cache=False).logits[:, :-1][keep]
    decoder, head = parts
    rows = torch.zeros((keep.shape[0], keep.shape[1] + 1), dtype=torch.bool, device=keep.device)
    rows[:, :-1] = keep  # positions whose final hidden state reaches the loss
    if _can_trim_last_layer(model, decoder, inputs):
        return head(_trained_states(decoder, inputs, rows))
    with _last_mlp_only_at(decoder, rows):
        return head(decoder(**inputs, use_cache=False).last_hidden_state[:, :-1][keep])


def completion_loss(
    model: torch.nn.Module, inputs: dict[str, torch.Tensor], num_items: torch.Tensor | int | None
) -> tuple[torch.Tensor, int]:
    """Mean next-token cross-entropy over trained positions (sum / num_items under gradient accumulation),
    and the number of trained positions in this micro-batch."""
    labels = inputs["labels"]
    targets = labels[:, 1:]
    keep = targets != IGNORE_INDEX
    forward_inputs = {k: v for k, v in inputs.items() if k != "labels"}
    if _right_padded_only(forward_inputs):
        # Under a causal mask a real token never sees the padding after it, so the padding mask changes
        # nothing we train on; without it attention takes the is_causal fast path (no mask tensor, upper
        # blocks skipped).
        del forward_inputs["attention_mask"]
    with fast_rms_norms(model):
        logits = _trained_logits(model, forward_inputs, keep)
    loss_sum = F.cross_entropy(logits.float(), targets[keep], reduction="sum")
    denominator = num_items if num_items is not None else keep.sum().clamp(min=1)
    if torch.is_tensor(denominator):
        denominator = denominator.to(loss_sum.device)
    return loss_sum / denominator, int(keep.sum())


class _RecordStepLoss(TrainerCallback):
    """Append each optimizer step's exact loss to log_history (which checkpoints save and resume restores);
    Trainer's own logged loss is rounded to 4 decimals and averaged over the logging window."""

    def __init__(self, trainer: CompletionOnlyTrainer) -> None:
        self.trainer = trainer

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        window = self.trainer.window_loss
        if window is not None:
            state.log_history.append({"step": state.global_step, "step_loss": float(window)})
        self.trainer.window_loss = None


class CompletionOnlyTrainer(Trainer):
    """Trainer with `completion_loss`; it normalises by the token count across accumulated micro-batches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Make Trainer count trained tokens over the whole accumulation window and pass them in.
        self.model_accepts_loss_kwargs = True
        self.trained_tokens = 0
        self.window_loss: torch.Tensor | None = None
        self.add_callback(_RecordStepLoss(self))

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        loss, n_tokens = completion_loss(model, inputs, num_items_in_batch)
        if model.training:
            self.trained_tokens += n_tokens
            detached = loss.detach()
            self.window_loss = detached if self.window_loss is None else self.window_loss + detached
        return (loss, {"loss": loss}) if return_outputs else loss
