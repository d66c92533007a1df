"""A Llama-family decoder's last layer evaluated only at selected positions.

Every position needs the last layer's keys and values, but its query, attention output, MLP and the final
norm matter only where a token is predicted (scored by the evaluator, trained on by the trainer). Same
modules, same weights, exact math; gradients flow as usual. Used for decoders that
`medtune.models.anatomy.llama_like_layers` accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F


class _StopBeforeLastLayer(Exception):
    """Raised by a pre-hook on the last decoder layer: carries that layer's input and keyword arguments."""

    def __init__(self, hidden: torch.Tensor, kwargs: dict[str, Any]) -> None:
        super().__init__("stop before the last layer")
        self.hidden = hidden
        self.kwargs = kwargs


def _stop_hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    raise _StopBeforeLastLayer(args[0] if args else kwargs["hidden_states"], kwargs)


def run_until_last_layer(forward: Callable[[], Any], layers: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """Call `forward` (a decoder forward) but stop before its last layer: (that layer's input, its keyword
    arguments, which carry the rotary `position_embeddings`)."""
    handle = layers[-1].register_forward_pre_hook(_stop_hook, with_kwargs=True)
    try:
        forward()
    except _StopBeforeLastLayer as stop:
        return stop.hidden, stop.kwargs
    finally:
        handle.remove()
    raise RuntimeError("the decoder did not reach its last layer")  # pragma: no cover


def selected_positions(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For a [batch, seq] boolean mask: (positions [batch, m], valid [batch, m]) where m is the largest
    count in a row; each row lists its selected positions in order, then filler positions (valid False)."""
    seq = rows.shape[1]
    order = torch.arange(seq, device=rows.device)
    # selected positions sort first, each group in position order
    positions = torch.argsort((~rows) * seq + order, dim=1, stable=True)
    count = rows.sum(dim=1)
    width = max(1, int(count.max()))
    positions = positions[:, :width]
    return positions, order[:width][None, :] < count[:, None]


def causal_allowed(query_pos: torch.Tensor, width: int) -> torch.Tensor:
    """[batch, 1, m, width] mask of the keys each query position may attend to under a causal mask."""
    keys = torch.arange(width, device=query_pos.device)
    return (keys[None, None, :] <= query_pos[:, :, None])[:, None]


def last_layer_at(
    layer: Any,
    final_norm: Any,
    hidden: torch.Tensor,
    query_pos: torch.Tensor,
    allowed: torch.Tensor,
    position_embeddings: tuple[torch.Tensor, torch.Tensor],
) -> torch.Tensor:
    """The decoder's last `layer` + final norm with queries only at `query_pos` ([n, m]): [n, m, hidden].

    `hidden` is the last layer's input ([n, width, hidden]), `allowed` a boolean [n, 1, m, width] mask of the
    keys each query may see.
    """
    from transformers.models.llama.modeling_llama import rotate_half  # also Mistral's and Qwen2's

    attn = layer.self_attn
    n, width, size = hidden.shape
    m = query_pos.shape[1]
    cos, sin = (t.expand(n, -1, -1) for t in position_embeddings)
    normed = layer.input_layernorm(hidden)
    at = query_pos[:, :, None]
    picked = normed.gather(1, at.expand(n, m, size))
    q = attn.q_proj(picked).view(n, m, -1, attn.head_dim).transpose(1, 2)
    k = attn.k_proj(normed).view(n, width, -1, attn.head_dim).transpose(1, 2)
    v = attn.v_proj(normed).view(n, width, -1, attn.head_dim).transpose(1, 2)
    q_cos, q_sin = (t.gather(1, at.expand(n, m, t.shape[-1]))[:, None] for t in (cos, sin))
    q = q * q_cos + rotate_half(q) * q_sin
    k = k * cos[:, None] + rotate_half(k) * sin[:, None]
    if attn.num_key_value_groups > 1:
        k = k.repeat_interleave(attn.num_key_value_groups, dim=1)
        v = v.repeat_interleave(attn.num_key_value_groups, dim=1)
    context = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=attn.scaling)
    residual = hidden.gather(1, at.expand(n, m, size))
    out = residual + attn.o_proj(context.transpose(1, 2).reshape(n, m, -1))
    out = out + layer.mlp(layer.post_attention_layernorm(out))
    return final_norm(out)
