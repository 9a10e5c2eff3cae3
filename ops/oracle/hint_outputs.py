"""Outputs of static calls without the kernel, for calls whose output a few checks decide.

A kernel on static fakes (a static probe's recorded call, or a kernel at the hints,
hint_kernels.HintKernels) runs only for its output's layout, dtype and autograd state. For
`aten.linear` on floating tensors of one dtype and device with matching sizes, those are known
without it (a fresh contiguous tensor of shape `input[:-1] + (out_features,)`), and the kernel
(its CompositeImplicit decomposition through torch's fake dispatch, several ms) is skipped; so
for `aten.addmm` with a 1-d bias, `aten.layer_norm` of a contiguous input, `aten.embedding`
and `aten.scaled_dot_product_attention` of contiguous 4-d inputs. Pointwise ops
(arithmetic, comparisons, `where`) of contiguous inputs of one dtype skip torch's fake dispatch
and the Python meta function behind it (~100-400 us a call). Anything outside the checks runs
the kernel, whose errors are eager's. The artifact check's run of a program on meta tensors
(packaging/meta_run.py) asks the same rules. tests/ops/test_hint_outputs.py compares each
answer with the kernel's across shapes, layouts, dtypes and grad modes, on fakes and on meta
tensors.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch._subclasses.fake_tensor import FakeTensor

from strict_tracer.proxy import TensorMeta, contiguous_strides

from .fakes import fake_mode, is_static, make_fake

aten = torch.ops.aten


def known_output(func: Any, args: tuple, kwargs: dict) -> torch.Tensor | None:
    """The output `func(*args, **kwargs)` would give on these static fakes (or plain meta
    tensors: then without autograd state), made without the kernel; None when the checks do
    not decide it."""
    rule = _RULES.get(func)
    if rule is None or torch.is_autocast_enabled("cpu") or torch.is_inference_mode_enabled():
        return None
    try:
        return rule(*args, **kwargs)
    except TypeError:       # arguments the rule does not take: the kernel decides
        return None


def _kind(tensor: Any) -> str | None:
    """"fake" for a static fake of the oracle's mode, "meta" for a plain meta tensor (the
    artifact check's run of a program, packaging/meta_run.py), strided both; else None."""
    t = type(tensor)
    if t is FakeTensor:
        return "fake" if tensor.fake_mode is fake_mode() and tensor.layout is torch.strided \
            and is_static(tensor) else None
    if t is torch.Tensor:
        return "meta" if tensor.is_meta and tensor.layout is torch.strided else None
    return None


def _one_kind(tensors: Any) -> bool:
    """Tensors of one kind (_kind) on one device."""
    first = tensors[0]
    kind = _kind(first)
    return kind is not None and all(_kind(t) == kind and t.device == first.device
                                    for t in tensors)


def _plain(tensors: tuple) -> bool:
    """Tensors of one kind and device (_one_kind), of one floating dtype."""
    first = tensors[0]
    return _one_kind(tensors) and all(t.dtype is first.dtype for t in tensors) and \
        first.dtype.is_floating_point


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


def _embedding(weight: Any, indices: Any, padding_idx: Any = -1,
               scale_grad_by_freq: Any = False, sparse: Any = False) -> torch.Tensor | None:
    """A row of a 2-d floating weight (with the standard strides) for each integer index: a
    fresh contiguous tensor of shape `indices.shape + (embedding_dim,)`, whatever the
    indices' layout."""
    if not _one_kind((weight, indices)) or weight.dim() != 2 or \
            not weight.dtype.is_floating_point or indices.dtype not in (torch.int32, torch.int64) or \
            weight.stride() != contiguous_strides(tuple(weight.shape)):
        return None
    if type(padding_idx) is not int or not -1 <= padding_idx < weight.shape[0] or \
            type(scale_grad_by_freq) is not bool or sparse is not False:
        return None
    return _fresh((*indices.shape, weight.shape[1]), (weight,))


def _attention(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: Any = 0.0,
               is_causal: Any = False, scale: Any = None, enable_gqa: Any = False
               ) -> torch.Tensor | None:
    """scaled_dot_product_attention of 4-d (batch, heads, length, dim) query, key and value
    of one floating dtype, the same batch and heads, without dropout; a mask (bool or of
    their dtype; the standard strides or 0 where expanded, any in a dim of size 1, 1 in the
    last) that broadcasts to (batch, heads, query length, key length), not beside is_causal.
    Each input is laid out fresh (the standard strides) or as heads (_heads_layout).

    Eager's CPU flash kernel lays its output out as the query (heads of a fresh
    `(b, length, heads, value dim)` for heads of one), the math kernel contiguously; flash is
    taken unless a mask requires grad or sdpa_kernel excludes it. The output of heads of a
    query is answered only where that choice is known: key and value dims alike, no batch,
    head or length of 0 or 1, not on meta tensors (the meta device takes the math kernel).
    tests/ops/test_hint_outputs.py compares the answers with the fake kernel and eager across
    sizes, masks, dtypes, layouts and grad modes."""
    qkv = (query, key, value)
    if not _plain(qkv) or any(t.dim() != 4 for t in qkv):
        return None
    (b, h, length, dim), (kb, kh, source, kdim), (vb, vh, vsource, vdim) = \
        query.shape, key.shape, value.shape
    if (kb, kh, kdim) != (b, h, dim) or (vb, vh, vsource) != (b, h, source) or \
            dropout_p not in (0, 0.0) or type(is_causal) is not bool or enable_gqa is not False or \
            not (scale is None or type(scale) in (int, float)):
        return None
    layouts = [_heads_layout(t) for t in qkv]
    if None in layouts:
        return None
    inputs, mask_grad = qkv, False
    if attn_mask is not None:
        standard = contiguous_strides(tuple(attn_mask.shape))
        if is_causal or not _one_kind((query, attn_mask)) or attn_mask.dim() > 4 or \
                attn_mask.dtype not in (torch.bool, query.dtype) or attn_mask.stride(-1) != 1 or \
                any(s not in (0, want) and n != 1
                    for n, s, want in zip(attn_mask.shape, attn_mask.stride(), standard)):
            return None     # (a stride of 0: a mask expanded from fewer rows or heads)
        target = (b, h, length, source)[4 - attn_mask.dim():]
        if any(size not in (1, full) for size, full in zip(attn_mask.shape, target)):
            return None
        if attn_mask.requires_grad and not torch.is_grad_enabled():
            return None
        mask_grad = attn_mask.requires_grad
        inputs = (*qkv, attn_mask) if mask_grad else qkv
    sizes_known = min(b, h, length, source) >= 2
    if mask_grad and not sizes_known:
        return None         # an empty output does not take the mask's grad
    if layouts[0] == "fresh" or mask_grad:
        return _fresh((b, h, length, vdim), inputs)
    if not sizes_known or dim != vdim or type(query) is torch.Tensor or \
            not torch.backends.cuda.flash_sdp_enabled():    # (the flag CPU's flash reads too)
        return None
    heads = contiguous_strides((b, length, h, vdim))
    return _fresh((b, h, length, vdim), inputs, strides=tuple(heads[i] for i in (0, 2, 1, 3)))


def _heads_layout(t: Any) -> str | None:
    """"fresh": the standard strides; "heads": attention's heads of a fresh tensor, the
    (b, length, heads * dim) columns of a fresh (b, length, width) (one of a fused
    projection's splits, or all of it) viewed as (b, length, heads, dim) and transposed to
    (b, heads, length, dim); None otherwise."""
    shape = tuple(t.shape)
    strides = t.stride()
    if strides == contiguous_strides(shape):
        return "fresh"
    b, h, length, dim = shape
    row = strides[2]
    if strides[3] == 1 and strides[1] == dim and row >= h * dim and strides[0] == length * row:
        return "heads"
    return None


def _fresh(shape: tuple, tensors: tuple, dtype: torch.dtype | None = None,
           differentiable: bool = True, strides: tuple | None = None) -> torch.Tensor:
    """A new output of the inputs' dtype (unless given) and device, made by an op on
    `tensors`: contiguous, or with the given (dense) strides."""
    requires_grad = differentiable and torch.is_grad_enabled() and \
        any(t.requires_grad for t in tensors)
    first = tensors[0]
    strides = contiguous_strides(shape) if strides is None else strides
    if type(first) is torch.Tensor:     # meta: what the kernel makes, autograd state aside
        return torch.empty_strided(shape, strides, device=first.device,
                                   dtype=first.dtype if dtype is None else dtype)
    return make_fake(TensorMeta(shape, first.dtype if dtype is None else dtype, first.device,
                                requires_grad, strides, is_leaf=not requires_grad))


# ---------------------------------------------------------------- pointwise ops
# TensorIterator lays out a pointwise op's output after its inputs' strides. When every tensor
# input is contiguous, the output is contiguous if either
# - no output dim has size 0 or 1: each input's nonzero strides then fall strictly along the
#   dims (a broadcast dim's stride is 0 and votes for no order), or
# - every input has the standard (row-major) strides, its dims of size 0 and 1 included:
#   all of them then agree on one order, the output's (a contiguous tensor may have any
#   stride in a dim of size 1, and any at all without elements, which ops that copy their
#   input's layout keep).
# Inputs of one dtype keep it, with Python numbers beside floating tensors or ints beside
# integer ones (comparisons give bool). Everything else (0-dim tensors, which promote and place
# differently, mixed dtypes, other layouts) runs the kernel.

def _pointwise_shape(tensors: list, same_dtype: bool = True) -> tuple | None:
    """The broadcast output shape of contiguous tensors of one kind and device (_one_kind;
    with `same_dtype`, of one dtype); None outside the checks above."""
    first = tensors[0]
    if not _one_kind(tensors) or not all(t.dim() > 0 and t.is_contiguous() and
                                         (t.dtype is first.dtype or not same_dtype)
                                         for t in tensors):
        return None
    rank = max(t.dim() for t in tensors)
    shape = []
    for dim in range(-rank, 0):
        sizes = {t.shape[dim] for t in tensors if t.dim() >= -dim}
        if len(sizes - {1}) > 1:
            return None         # sizes that do not broadcast: the kernel raises
        shape.append(min(sizes) if 0 in sizes else max(sizes))
    if (0 in shape or 1 in shape) and \
            any(t.stride() != contiguous_strides(tuple(t.shape)) for t in tensors):
        return None
    return tuple(shape)


def _numbers(values) -> bool:
    return all(type(v) in (int, float) for v in values)


def _arithmetic(*args: Any, **kwargs: Any) -> torch.Tensor | None:
    """add, sub (with alpha), mul, div of floating tensors and Python numbers; unary ops of a
    floating tensor (with a number exponent for pow, an approximation for gelu)."""
    return _same_dtype(args, kwargs, integers=False)


def _integer_or_arithmetic(*args: Any, **kwargs: Any) -> torch.Tensor | None:
    """add, sub, mul: `_arithmetic`, or of integer tensors and Python ints."""
    return _same_dtype(args, kwargs, integers=True)


def _same_dtype(args: tuple, kwargs: dict, integers: bool) -> torch.Tensor | None:
    approximate = kwargs.pop("approximate", "none")
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    others = [a for a in args if not isinstance(a, torch.Tensor)] + list(kwargs.values())
    if not tensors or not _numbers(others) or set(kwargs) - {"alpha"} or \
            approximate not in ("none", "tanh"):
        return None
    shape = _pointwise_shape(tensors)
    dtype = tensors[0].dtype
    if shape is None or not (dtype.is_floating_point or integers and _integer(dtype) and
                             all(type(v) is int for v in others)):
        return None
    return _fresh(shape, tuple(tensors))


def _integer(dtype: torch.dtype) -> bool:
    return not dtype.is_floating_point and not dtype.is_complex and dtype is not torch.bool


def _comparison(a: Any, b: Any) -> torch.Tensor | None:
    """A comparison of real tensors of one dtype, or of one with a Python number: bool."""
    tensors = [v for v in (a, b) if isinstance(v, torch.Tensor)]
    if not _numbers(v for v in (a, b) if not isinstance(v, torch.Tensor)):
        return None
    shape = _pointwise_shape(tensors)
    if shape is None or tensors[0].dtype.is_complex:
        return None
    return _fresh(shape, tuple(tensors), torch.bool, differentiable=False)


def _logical(a: Any, b: Any) -> torch.Tensor | None:
    """`&` / `|` of two bool tensors."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return None
    shape = _pointwise_shape([a, b])
    if shape is None or a.dtype is not torch.bool:
        return None
    return _fresh(shape, (a, b), differentiable=False)


def _where(condition: Any, input: Any, other: Any) -> torch.Tensor | None:
    """`torch.where(condition, x, y)`: a bool condition, floating tensors of one dtype."""
    if not all(isinstance(v, torch.Tensor) for v in (condition, input, other)) or \
            condition.dtype is not torch.bool or input.dtype is not other.dtype or \
            not input.dtype.is_floating_point:
        return None
    shape = _pointwise_shape([condition, input, other], same_dtype=False)
    return None if shape is None else _fresh(shape, (input, other))


_ARITHMETIC = (aten.div.Tensor, aten.neg.default, aten.tanh.default, aten.relu.default,
               aten.gelu.default, aten.silu.default, aten.sigmoid.default, aten.rsqrt.default,
               aten.sqrt.default, aten.exp.default, aten.pow.Tensor_Scalar)
_COMPARISONS = tuple(getattr(getattr(aten, name), overload)
                     for name in ("eq", "ne", "gt", "ge", "lt", "le")
                     for overload in ("Tensor", "Scalar"))

_RULES: dict[Any, Callable] = {
    aten.linear.default: _linear, aten.addmm.default: _addmm,
    aten.layer_norm.default: _layer_norm, aten.embedding.default: _embedding,
    aten.scaled_dot_product_attention.default: _attention,
    aten.where.self: _where,
    aten.__and__.Tensor: _logical, aten.__or__.Tensor: _logical,
    aten.bitwise_and.Tensor: _logical, aten.bitwise_or.Tensor: _logical,
    **{op: _arithmetic for op in _ARITHMETIC},
    **{op: _integer_or_arithmetic for op in (aten.add.Tensor, aten.sub.Tensor, aten.mul.Tensor)},
    **{op: _comparison for op in _COMPARISONS},
}
