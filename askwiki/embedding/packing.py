"""Linear layers whose bfloat16 weights are laid out once for oneDNN, not on every call.

In bfloat16, torch hands each linear layer's weight to oneDNN in its plain layout, and
oneDNN reorders it into the blocked layout its kernels (AMX, AVX512-BF16) read on every
call. For a short query (one row of ~20 tokens) that reorder costs more than the product:
the 384x384 projections took ~60 us each (Intel, AMX), mostly copying 295 KB of weights.
Reordering once at load (the ops torch's own compiler uses for frozen CPU models) made a
single query ~1.3x and a batch of passages ~1.15x faster than plain bfloat16 weights, with
identical vectors (issue 18, README "Embedding dtype").

These ops are torch internals (``torch.ops.mkldnn``): each layer is checked against its
plain self on a probe input at load, and any layer the ops fail or disagree on stays plain.
Imports torch: load it only where the model is loaded (an unchanged re-run never does).
"""

from __future__ import annotations

import logging
from typing import Any

import torch

logger = logging.getLogger(__name__)

# Rows oneDNN is told to expect when it picks the packed layout; a batch of passages has
# thousands and a query tens, and 32 measured best for both.
ROWS_HINT = 32
PROBE_ROWS = 3


def pack_linear_layers(model: torch.nn.Module) -> int:
    """Replace ``model``'s bfloat16 ``nn.Linear`` layers by packed ones; how many were."""
    packed = failed = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, torch.nn.Linear) or child.weight.dtype != torch.bfloat16:
                continue
            replacement = _packed_or_none(child)
            if replacement is None:
                failed += 1
                continue
            setattr(parent, name, replacement)
            packed += 1
    if failed:
        logger.warning("%d linear layers kept their plain bfloat16 weights", failed)
    logger.debug("Packed %d bfloat16 linear layers for oneDNN", packed)
    return packed


def _packed_or_none(linear: torch.nn.Linear) -> PackedLinear | None:
    try:
        packed = PackedLinear(linear)
        with torch.inference_mode():
            probe = torch.randn(PROBE_ROWS, linear.in_features).to(torch.bfloat16)
            agree = torch.allclose(packed(probe), linear(probe), rtol=1e-2, atol=1e-2)
    except RuntimeError as exc:
        logger.debug("Cannot pack a linear layer (%s)", exc)
        return None
    return packed if agree else None


class PackedLinear(torch.nn.Module):
    """``nn.Linear`` with its weight in oneDNN's blocked layout (inference only)."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        weight = linear.weight.detach()
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight, ROWS_HINT)
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x: torch.Tensor) -> Any:
        return packed_linear(x, self)


def packed_linear(x: torch.Tensor, layer: PackedLinear, gelu: bool = False) -> Any:
    """``layer(x)``, optionally followed by BERT's exact (erf) GELU in the same oneDNN call."""
    if gelu:
        return torch.ops.mkldnn._linear_pointwise(x, layer.packed, layer.bias, "gelu", [], "none")
    return torch.ops.mkldnn._linear_pointwise(x, layer.packed, layer.bias, "none", [], "")
