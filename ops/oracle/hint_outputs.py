"""Outputs of static calls without the kernel, for calls whose output a few checks decide.

A kernel on static fakes (a static probe's recorded call, or a kernel at the hints,
hint_kernels.HintKernels) runs only for its output's layout, dtype and autograd state. For
`aten.linear` on floating tensors of one dtype and device with matching sizes, those are known
without it (a fresh contiguous tensor of shape `input[:-1] + (out_features,)`), and the kernel
(its CompositeImplicit decomposition through torch's fake dispatch, several ms) is skipped; so
for `aten.addmm` with a 1-d bias and `aten.layer_norm` of a contiguous input. Anything outside
the checks runs the kernel, whose errors are eager's. tests/ops/test_hint_outputs.py compares
each answer with the kernel's across shapes, layouts, dtypes and grad modes.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch._subclasses.fake_tensor import FakeTensor

from strict_tracer.proxy import TensorMeta

from .fakes import fake_mode, is_static, make_fake

aten = torch.ops.aten


def known_output(func: Any, args: tuple, kwargs: dict) -> torch.Tensor | None:
    """The output `func(*args, **kwargs)` would give on these static fakes, made without the
    kernel; None when the checks do not decide it."""
    rule = _RULES.get(func)
    if rule is None or torch.is_autocast_enabled("cpu") or torch.is_inference_mode_enabled():
        return None
    try:
        return rule(*args, **kwargs)
    except TypeError:       # arguments the rule does not take: the kernel decides
        return None


def _plain(tensors: tuple) -> bool:
    """Static fakes of the oracle's mode, strided, of one floating dtype and one device."""
    first = tensors[0]
    mode = fake_mode()
    return all(type(t) is FakeTensor and t.fake_mode is mode and t.layout is torch.strided
               and t.dtype is first.dtype and t.device == first.device and is_static(t)
               for t in tensors) and first.dtype.is_floating_point


def _linear(input: Any, weight: Any, bias: Any = None) -> torch.Tensor | None:
    tensors = (input, weight) if bias is None else (input, weight, bias)
    if not _plain(tensors) or weight.dim() != 2 or input.dim() < 1 or \
            input.shape[-1] != weight.shape[1]:
        return None
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != weight.shape[0]):
        return None
    return _fresh((*input.shape[:-1], weight.shape[0]), tensors)


def _addmm(input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> torch.Tensor | None:
    """`bias + mat1 @ mat2` with a 1-d bias (Hugging Face's Conv1D)."""
    tensors = (input, mat1, mat2)
    if not _plain(tensors) or mat1.dim() != 2 or mat2.dim() != 2 or input.dim() != 1 or \
            mat1.shape[1] != mat2.shape[0] or input.shape[0] != mat2.shape[1]:
        return None
    if type(beta) not in (int, float) or type(alpha) not in (int, float):
        return None
    return _fresh((mat1.shape[0], mat2.shape[1]), tensors)


def _layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
                eps: Any = 1e-5, cudnn_enable: Any = True) -> torch.Tensor | None:
    """Over the last dims of a contiguous input, with weight and bias of those dims."""
    tensors = tuple(t for t in (input, weight, bias) if t is not None)
    n = list(normalized_shape) if isinstance(normalized_shape, (list, tuple)) else None
    if not _plain(tensors) or n is None or not n or input.dim() < len(n) or \
            list(input.shape[input.dim() - len(n):]) != n or not input.is_contiguous():
        return None
    if any(list(t.shape) != n for t in (weight, bias) if t is not None):
        return None
    return _fresh(tuple(input.shape), tensors)


def _fresh(shape: tuple, tensors: tuple) -> torch.Tensor:
    """A new contiguous output of the inputs' dtype and device, made by an op on `tensors`."""
    requires_grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    first = tensors[0]
    return make_fake(TensorMeta(shape, first.dtype, first.device, requires_grad,
                                is_leaf=not requires_grad))


_RULES: dict[Any, Callable] = {aten.linear.default: _linear, aten.addmm.default: _addmm,
                               aten.layer_norm.default: _layer_norm}
