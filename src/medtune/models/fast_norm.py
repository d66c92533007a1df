"""RMSNorm in fewer passes over the activations, for Llama-family norms whose weight is frozen.

Autograd records the stock RMSNorm as six element-wise operations (and about as many again backward), each a
full pass over the activations; on a CPU with a small model those passes cost as much as a matmul. With the
weight frozen (LoRA) the gradient has a closed form: forward is three passes and backward four. Float32 only
(the stock module computes in float32 and casts back, which this keeps exactly only when the input already is
float32); without gradients, or for other dtypes, the module's own forward runs (measured: no faster path
without autograd on a CPU, torch's `rms_norm` decomposes into the same operations).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

# Norms whose forward is exactly weight * x * rsqrt(mean(x^2) + eps), computed in float32.
_PLAIN_RMS_NORMS = frozenset({"LlamaRMSNorm", "MistralRMSNorm", "Qwen2RMSNorm"})


class _FrozenWeightRMSNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        inv_rms = torch.linalg.vecdot(x, x).unsqueeze(-1).div_(x.shape[-1]).add_(eps).rsqrt_()
        ctx.save_for_backward(x, weight, inv_rms)
        return weight * (x * inv_rms)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        x, weight, inv_rms = ctx.saved_tensors
        # d/dx of w * x * r(x), r = (mean(x^2) + eps)^-1/2:  r * g - x * r^3 * mean(g * x), with g = grad * w
        g = grad * weight
        coefficient = torch.linalg.vecdot(g, x).unsqueeze(-1).mul_(inv_rms.pow(3)).div_(x.shape[-1])
        return torch.addcmul(g * inv_rms, x, coefficient, value=-1), None, None


def _fast_forward(module: Any, stock: Any) -> Any:
    weight, eps = module.weight, module.variance_epsilon

    def forward(hidden_states: torch.Tensor) -> torch.Tensor:
        frozen = not weight.requires_grad and weight.dtype == torch.float32
        if frozen and hidden_states.dtype == torch.float32 and hidden_states.requires_grad:
            return _FrozenWeightRMSNorm.apply(hidden_states, weight, eps)
        return stock(hidden_states)

    return forward


@contextmanager
def fast_rms_norms(model: torch.nn.Module) -> Iterator[None]:
    """Within the block, the model's plain RMSNorm modules run `_FrozenWeightRMSNorm` where it applies."""
    patched = [
        module
        for module in model.modules()
        if type(module).__name__ in _PLAIN_RMS_NORMS
        and hasattr(module, "variance_epsilon")
        and "forward" not in module.__dict__  # not patched already (nested blocks)
    ]
    for module in patched:
        module.forward = _fast_forward(module, module.forward)
    try:
        yield
    finally:
        for module in patched:
            del module.forward  # the class's forward shows through again
