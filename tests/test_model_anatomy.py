"""Which decoders get the last-layer shortcut (training, scoring), and when a sliding window rules it out."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config

from medtune.models.anatomy import attention_window, llama_like_layers, split_decoder_head
from medtune.models.partial import selected_positions
from medtune.train.trainer import _can_trim_last_layer

SMALL = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 64,
}


def _model(config: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config)


def test_llama_family_decoders_are_recognised_with_their_windows():
    llama = _model(LlamaConfig(**SMALL))
    decoder, head = split_decoder_head(llama)
    assert head is llama.lm_head and llama_like_layers(llama, decoder) is decoder.layers
    assert attention_window(llama) is None
    mistral = _model(MistralConfig(**SMALL, sliding_window=8))
    assert llama_like_layers(mistral, split_decoder_head(mistral)[0]) is not None
    assert attention_window(mistral) == 8
    qwen = _model(Qwen2Config(**SMALL, sliding_window=8, use_sliding_window=False))
    assert attention_window(qwen) is None  # the window is named but not used


def test_the_shortcut_is_off_for_rows_wider_than_the_window_or_with_a_mask():
    mistral = _model(MistralConfig(**SMALL, sliding_window=8))
    decoder = split_decoder_head(mistral)[0]
    assert _can_trim_last_layer(mistral, decoder, {"input_ids": torch.zeros(2, 8, dtype=torch.long)})
    assert not _can_trim_last_layer(mistral, decoder, {"input_ids": torch.zeros(2, 9, dtype=torch.long)})
    masked = {"input_ids": torch.zeros(2, 4, dtype=torch.long), "attention_mask": torch.ones(2, 4)}
    assert not _can_trim_last_layer(mistral, decoder, masked)


def test_selected_positions_list_each_rows_positions_in_order():
    rows = torch.tensor([[0, 1, 0, 1, 1], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    positions, valid = selected_positions(rows)
    assert positions.shape == (3, 3)
    assert positions[0].tolist() == [1, 3, 4] and valid[0].tolist() == [True, True, True]
    assert positions[1, 0].item() == 0 and valid[1].tolist() == [True, False, False]
    assert not valid[2].any()
    hidden = torch.arange(15).view(3, 5)
    # row-major, the order in which the loss reads hidden[rows]
    assert hidden.gather(1, positions)[valid].tolist() == hidden[rows].tolist()
