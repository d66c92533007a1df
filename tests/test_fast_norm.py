"""The frozen-weight RMSNorm: same values and input gradients as transformers' LlamaRMSNorm, in fewer passes;
the stock forward wherever its shortcut does not apply."""

from __future__ import annotations

import torch
from transformers.models.llama.modeling_llama import LlamaRMSNorm

from medtune.models.fast_norm import fast_rms_norms


def _norm(trainable: bool = False) -> torch.nn.Module:
    torch.manual_seed(0)
    norm = LlamaRMSNorm(48, eps=1e-5)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    norm.weight.requires_grad_(trainable)
    return torch.nn.Sequential(norm)


def _value_and_grad(model: torch.nn.Module, x: torch.Tensor, upstream: torch.Tensor) -> tuple:
    x = x.clone().requires_grad_(True)
    out = model(x)
    out.backward(upstream)
    return out.detach(), x.grad


def test_values_and_input_gradients_equal_the_stock_norm():
    model = _norm()
    x, upstream = torch.randn(3, 7, 48) * 3, torch.randn(3, 7, 48)
    stock_out, stock_grad = _value_and_grad(model, x, upstream)
    with fast_rms_norms(model):
        out, grad = _value_and_grad(model, x, upstream)
        assert "_FrozenWeightRMSNorm" in type(model(x.requires_grad_(True)).grad_fn).__name__
    assert torch.allclose(out, stock_out, atol=1e-6)
    assert torch.allclose(grad, stock_grad, atol=1e-6, rtol=1e-5)


def test_stock_forward_when_the_weight_trains_or_the_dtype_is_not_float32():
    trainable = _norm(trainable=True)
    x = torch.randn(2, 5, 48, requires_grad=True)
    with fast_rms_norms(trainable):
        out = trainable(x)
        out.sum().backward()
    assert "_FrozenWeightRMSNorm" not in type(out.grad_fn).__name__
    assert trainable[0].weight.grad is not None  # the weight still gets its gradient
    frozen_bf16 = _norm().to(torch.bfloat16)
    with fast_rms_norms(frozen_bf16):
        out = frozen_bf16(torch.randn(2, 5, 48, dtype=torch.bfloat16, requires_grad=True))
    assert "_FrozenWeightRMSNorm" not in type(out.grad_fn).__name__


def test_the_patch_is_undone_after_the_block_even_when_nested():
    model = _norm()
    norm = model[0]
    with fast_rms_norms(model):
        with fast_rms_norms(model):
            assert "forward" in norm.__dict__
        assert "forward" in norm.__dict__  # the inner block leaves the outer one's patch alone
    assert "forward" not in norm.__dict__
    out = model(torch.randn(2, 3, 48, requires_grad=True))
    assert "_FrozenWeightRMSNorm" not in type(out.grad_fn).__name__
