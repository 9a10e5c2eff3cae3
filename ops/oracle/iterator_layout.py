"""The strides eager gives a pointwise op's output, where torch's meta functions may not.

Eager CPU kernels of pointwise ops lay their output out with TensorIterator; torch's meta
functions (written for symbolic sizes, and run by the oracle) follow its rules except in dims of
size 1, whose strides they often take from an input: `(x.unsqueeze(1).transpose(1, 2) - 1)` of
a (4, 6) x has strides (6, 1, 6) in eager and (6, 1, 1) on fakes. The layout is the same in
memory; the stride a program reads is not, and a program computing with it would export wrong.

`output_strides` applies TensorIterator's rules to sizes and strides (written from its
documented behaviour: a fast set-up for operands of one shape, else dims ordered by the
operands' strides, broadcast dims ignored, ties broken by size); a few ops whose kernels
allocate their output themselves are described by `ALLOCATED` (contiguous, or like a dense
input). `eager_layout` gives a static call of these overloads an output with eager's strides
when the fake's differ (only ever in dims of size 1). tests/ops/test_iterator_layout.py
compares `eager_strides` with eager on random layouts.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch._subclasses.fake_tensor import FakeTensor

from strict_tracer.proxy import TensorMeta, contiguous_strides, is_contiguous_layout

from .fakes import is_static, make_fake, non_overlapping_and_dense

aten = torch.ops.aten

Operand = tuple[tuple, tuple]     # (sizes, strides); a Python number is a 0-dim operand


def output_strides(shape: tuple, operands: list[Operand]) -> tuple:
    """The strides of a new output of `shape` that TensorIterator allocates for `operands`."""
    fast = _fast_set_up(operands)
    if fast is not None:
        return contiguous_strides(shape) if fast == () else fast
    ndim = len(shape)
    strides = [_broadcast_strides(shape, sizes, st) for sizes, st in operands]
    perm = list(range(ndim - 1, -1, -1))       # innermost dim first

    def order(dim0: int, dim1: int) -> int:
        """1: dim0 goes after dim1 (is outer), -1: before, 0: the operands do not say."""
        for st in strides:
            a, b = st[dim0], st[dim1]
            if a == 0 or b == 0:
                continue
            if a != b:
                return -1 if a < b else 1
            if shape[dim0] > shape[dim1]:
                return 1
        return 0

    for i in range(1, ndim):
        moving = i
        for j in range(i - 1, -1, -1):
            verdict = order(perm[j], perm[moving])
            if verdict > 0:
                perm[j], perm[moving] = perm[moving], perm[j]
                moving = j
            elif verdict < 0:
                break
    if perm == list(range(ndim - 1, -1, -1)):
        return contiguous_strides(shape)
    result = [0] * ndim
    step = 1
    for dim in perm:
        result[dim] = step
        step *= shape[dim]
    return tuple(result)


def _fast_set_up(operands: list[Operand]) -> tuple | None:
    """The output strides of TensorIterator's fast set-up (operands of one shape, none 0-dim
    beside others): () for contiguous, else the operands' strides; None without it."""
    shapes = {sizes for sizes, _ in operands}
    if len(shapes) != 1:
        return None
    if all(is_contiguous_layout(sizes, st) for sizes, st in operands):
        return ()
    sizes = operands[0][0]
    if len(sizes) == 4 and all(_channels_last(s, st) for s, st in operands):
        n, c, h, w = sizes
        return (h * w * c, 1, w * c, c)
    if all(non_overlapping_and_dense(s, st) for s, st in operands) and \
            len({st for _, st in operands}) == 1:
        return operands[-1][1]
    return None


def _broadcast_strides(shape: tuple, sizes: tuple, strides: tuple) -> list:
    offset = len(shape) - len(sizes)
    out = [0] * len(shape)
    for i, (size, stride) in enumerate(zip(sizes, strides)):
        out[offset + i] = 0 if size == 1 and shape[offset + i] != 1 else stride
    return out


def _channels_last(sizes: tuple, strides: tuple) -> bool:
    """torch's is_contiguous(memory_format=torch.channels_last) of 4-d sizes and strides."""
    expected = 1
    for dim in (1, 3, 2, 0):
        if sizes[dim] != 1:
            if strides[dim] != expected:
                return False
            expected *= sizes[dim]
    return True


# ---------------------------------------------------------------- calls it applies to
def _tensor_and_numbers(*args: Any, **kwargs: Any) -> list | None:
    """Binary ops: both arguments are operands, a Python number as a 0-dim one."""
    return _operands(args[:2], args[:2])


def _floating_and_numbers(*args: Any, **kwargs: Any) -> list | None:
    """True division and atan2: integer inputs would be converted to floating ones first."""
    if not any(isinstance(a, torch.Tensor) and a.dtype.is_floating_point for a in args[:2]):
        return None
    return _operands(args[:2], args[:2])


def _first(*args: Any, **kwargs: Any) -> list | None:
    """Unary ops (and pow with a number exponent) of a floating tensor: the input alone."""
    if not isinstance(args[0], torch.Tensor) or not args[0].dtype.is_floating_point:
        return None
    return _operands(args[:1], args[:1])


def _first_of_any_dtype(*args: Any, **kwargs: Any) -> list | None:
    """Unary ops that compute in their input's dtype (or give bool): the input alone."""
    return _operands(args[:1], args[:1]) if isinstance(args[0], torch.Tensor) else None


def _tensor_arguments(*args: Any, **kwargs: Any) -> list | None:
    """lerp, addcmul, addcdiv, clamp by tensors: their tensor arguments (numbers beside them,
    and missing bounds, are not operands)."""
    tensors = tuple(a for a in args if isinstance(a, torch.Tensor))
    if not tensors or not tensors[0].dtype.is_floating_point:
        return None
    return _operands(tensors, tensors)


def _where(condition: Any, input: Any, other: Any) -> list | None:
    """`torch.where`: the condition and both branches (a Python number as a 0-dim operand)."""
    if not isinstance(condition, torch.Tensor) or condition.dtype is not torch.bool:
        return None
    return _operands((condition, input, other), (input, other))


def _operands(values: tuple, computed: tuple) -> list | None:
    """The operands of `values`, when no tensor of `computed` (those the op promotes to one
    dtype) is converted first: a converted input is a new tensor, whose layout may not be its
    input's. So the tensors there share one dtype, which numbers beside them keep (floats only
    beside floating tensors, ints beside integer ones, bools beside bools)."""
    operands = []
    for value in values:
        if isinstance(value, torch.Tensor):
            if not is_static(value) or value.layout is not torch.strided:
                return None
            operands.append((tuple(value.shape), value.stride()))
        elif type(value) in (int, float, bool):
            operands.append(((), ()))
        else:
            return None
    dtypes = {v.dtype for v in computed if isinstance(v, torch.Tensor)}
    if len(dtypes) != 1:
        return None
    dtype = dtypes.pop()
    kept = (int, float, bool) if dtype.is_floating_point else \
        (bool,) if dtype is torch.bool else (int, bool) if not dtype.is_complex else ()
    return operands if all(type(v) in kept for v in computed
                           if not isinstance(v, torch.Tensor)) else None


_BINARY = [getattr(getattr(aten, name), overload)
           for name in ("add", "sub", "mul", "eq", "ne", "gt", "ge", "lt", "le", "bitwise_and",
                        "bitwise_or", "bitwise_xor", "__and__", "__or__", "__xor__", "maximum",
                        "minimum", "logical_and", "logical_or", "logical_xor", "remainder",
                        "fmod")
           for overload in (("Tensor", "Scalar") if hasattr(getattr(aten, name), "Tensor")
                            else ("default",))
           if hasattr(getattr(aten, name), overload)]
_UNARY = [getattr(aten, name).default
          for name in ("tanh", "relu", "gelu", "silu", "sigmoid", "rsqrt", "sqrt", "exp",
                       "log", "log1p", "sin", "cos", "erf", "expm1", "reciprocal",
                       "floor", "ceil", "round", "trunc", "leaky_relu", "elu",
                       "softplus", "clamp", "clamp_min", "clamp_max", "mish", "hardswish",
                       "hardsigmoid", "sign", "square")] + [aten.pow.Tensor_Scalar]
_UNARY_ANY_DTYPE = [getattr(aten, name).default
                    for name in ("neg", "abs", "logical_not", "bitwise_not")]

OPERANDS: dict[Any, Callable[..., list | None]] = {
    **{op: _tensor_and_numbers for op in _BINARY}, **{op: _first for op in _UNARY},
    **{op: _first_of_any_dtype for op in _UNARY_ANY_DTYPE},
    aten.where.ScalarOther: _where, aten.where.ScalarSelf: _where,
    aten.div.Tensor: _floating_and_numbers, aten.div.Scalar: _floating_and_numbers,
    aten.atan2.default: _floating_and_numbers,
    aten.where.self: _where, aten.lerp.Scalar: _tensor_arguments,
    aten.lerp.Tensor: _tensor_arguments, aten.addcmul.default: _tensor_arguments,
    aten.addcdiv.default: _tensor_arguments, aten.clamp.Tensor: _tensor_arguments,
}


# Ops whose eager kernel allocates its output itself rather than through TensorIterator.
def _contiguous_output(input: Any, *args: Any, **kwargs: Any) -> Callable | None:
    """masked_fill (a contiguous clone of the broadcast input), layer_norm, log_softmax."""
    return contiguous_strides if isinstance(input, torch.Tensor) and is_static(input) else None


def _like_dense_input(input: Any, *args: Any, **kwargs: Any) -> Callable | None:
    """`empty_like(input)` (hardtanh, nan_to_num, flip): a dense input's own strides (others
    are laid out after their strides' order: left to the kernel)."""
    if not isinstance(input, torch.Tensor) or not is_static(input) or \
            not non_overlapping_and_dense(tuple(input.shape), input.stride()):
        return None
    strides = input.stride()
    return lambda shape: strides


ALLOCATED: dict[Any, Callable[..., Callable | None]] = {
    aten.masked_fill.Scalar: _contiguous_output, aten.masked_fill.Tensor: _contiguous_output,
    aten.layer_norm.default: _contiguous_output, aten.log_softmax.int: _contiguous_output,
    aten._log_softmax.default: _contiguous_output,
    aten.hardtanh.default: _like_dense_input, aten.nan_to_num.default: _like_dense_input,
    aten.flip.default: _like_dense_input,
}


def eager_strides(func: Any, args: tuple, kwargs: dict, shape: tuple) -> tuple | None:
    """The strides of the output of shape `shape` of a static call `func(*args, **kwargs)` in
    eager, for the ops above; None for others, and where the checks do not decide them."""
    try:
        if func in OPERANDS:
            operands = OPERANDS[func](*args, **kwargs)
            return None if operands is None else output_strides(shape, operands)
        if func in ALLOCATED:
            rule = ALLOCATED[func](*args, **kwargs)
            return None if rule is None else rule(shape)
    except TypeError:       # arguments these rules do not take
        return None
    return None


def eager_layout(func: Any, args: tuple, kwargs: dict, out: Any) -> Any:
    """`out`, the output of a static call, or a fake with eager's strides where they differ."""
    if type(out) is not FakeTensor or (func not in OPERANDS and func not in ALLOCATED) or \
            not is_static(out) or 1 not in out.shape:
        return out
    strides = eager_strides(func, args, kwargs, tuple(out.shape))
    if strides is None or strides == out.stride():
        return out
    return make_fake(TensorMeta(tuple(out.shape), out.dtype, out.device, out.requires_grad,
                                strides, is_leaf=out.is_leaf))
