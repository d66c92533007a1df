"""Where the parts of a causal LM are, for code that runs parts of it on its own (the trainer's
completion-only loss, the evaluator's log-likelihood scoring). Imports nothing heavy."""

from __future__ import annotations

from typing import Any

# Decoders whose layers are exactly Llama's (pre-norm attention with RoPE on q/k, then a pre-norm MLP), so
# their last layer can be evaluated at selected positions with the layer's own modules.
LLAMA_LIKE = frozenset({"llama", "mistral", "qwen2"})
_ATTENTION_PARTS = ("q_proj", "k_proj", "v_proj", "o_proj", "head_dim", "scaling", "num_key_value_groups")
_LAYER_PARTS = ("input_layernorm", "post_attention_layernorm", "mlp")


def base_model(model: Any) -> Any:
    """The transformers model under a PEFT wrapper (the model itself otherwise)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def split_decoder_head(model: Any) -> tuple[Any, Any] | None:
    """(decoder, lm_head) of a causal LM, unwrapping PEFT; None when logits need the model's own forward."""
    base = base_model(model)
    config = getattr(base, "config", None)
    if config is None or getattr(config, "final_logit_softcapping", None):
        return None  # soft-capped logits (Gemma 2) are computed inside forward only
    decoder = getattr(base, getattr(base, "base_model_prefix", "model"), None)
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    if decoder is None or head is None or decoder is base:
        return None
    return decoder, head


def llama_like_layers(model: Any, decoder: Any) -> Any | None:
    """The decoder's layer list when its last layer can run at selected positions only, else None."""
    config = base_model(model).config
    layers = getattr(decoder, "layers", None)
    if config.model_type not in LLAMA_LIKE or not layers or getattr(decoder, "norm", None) is None:
        return None
    attn = getattr(layers[-1], "self_attn", None)
    if attn is None or not all(hasattr(attn, name) for name in _ATTENTION_PARTS):
        return None
    if hasattr(attn, "q_norm") or not all(hasattr(layers[-1], name) for name in _LAYER_PARTS):
        return None
    return layers


def attention_window(model: Any) -> int | None:
    """The sliding attention window in tokens when the model uses one (a plain causal mask is then exact
    only for inputs no longer than the window)."""
    config = base_model(model).config
    if not getattr(config, "use_sliding_window", True):
        return None  # Qwen2 names a window but uses it only when this flag is set
    window = getattr(config, "sliding_window", None)
    return int(window) if window else None
