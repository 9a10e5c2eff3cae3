"""Fake tensors for the oracle: the process-wide FakeTensorMode and fakes made from a
TensorMeta (at its hint shape, or at given symbolic sizes) or from a real tensor."""
from __future__ import annotations

from typing import Any

import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode
from torch.fx.experimental.symbolic_shapes import ShapeEnv

from .view_kernels import OracleFakeMode

_fake_mode: FakeTensorMode | None = None
_RESET_AFTER = 2000      # symbols in the throwaway env before a new one is made


def fake_mode() -> FakeTensorMode:
    """The process-wide fake mode used by the oracle.

    Its torch ShapeEnv is a throwaway: it only holds stand-ins for symbolic scalar arguments
    and data-dependent output sizes (see probe_symbols); fakes of tensors are static.
    """
    global _fake_mode
    if _fake_mode is None:
        _fake_mode = metadata_fake_mode(OracleFakeMode, allow_non_fake_inputs=True,
                                        shape_env=ShapeEnv())
    return _fake_mode


def metadata_fake_mode(mode_class: type[FakeTensorMode] = FakeTensorMode,
                       **kwargs: Any) -> FakeTensorMode:
    """A FakeTensorMode whose fakes are metadata only, whatever torch's opt-in
    `fake_tensor_propagate_real_tensors` flag says (a mode reads it once, when made): fakes
    made under the flag would carry uninitialized "real" tensors and run user kernels on them.
    Export's real-value propagation is strict_tracer's own (trace/real_values.py)."""
    with torch._functorch.config.patch(fake_tensor_propagate_real_tensors=False):
        return mode_class(**kwargs)


def renew_if_large() -> None:
    """Start a fresh throwaway env between traces once it has collected many stand-ins."""
    global _fake_mode
    if _fake_mode is not None and \
            len(_fake_mode.shape_env.var_to_range) > _RESET_AFTER:
        _fake_mode = None


def example_of(meta) -> torch.Tensor:
    """A TensorMeta's fake tensor at its hint shape, made on first use (kept on the meta); the
    oracle runs ops on it. A lifted tensor's is converted from the real one then (most are
    never asked for: an op replayed from a cached template runs no fake)."""
    if meta._example is None:
        meta._example = make_fake(meta) if meta.real is None else fake_from_real(meta.real)
    return meta._example


def make_fake(meta, shape: list | None = None, strides: list | None = None) -> torch.Tensor:
    """A fake tensor with the dtype/device/autograd state of a TensorMeta, at its hint shape
    and strides unless (symbolic) ones are given."""
    shape = meta.hint_shape if shape is None else shape
    strides = meta.strides if strides is None else strides
    with fake_mode():
        if meta.requires_grad and not meta.is_leaf and not dense_layout(meta) \
                and 0 not in meta.hint_shape:
            # A non-dense op output: made as a view directly (no tensor of its own first,
            # whose symbolic layout checks would cost as much again).
            return _non_leaf_view(meta, shape, strides, meta.storage_offset)
        t = empty_fake(shape, strides, meta.dtype, meta.device, meta.layout)
        if meta.storage_offset:
            t = t.as_strided(shape, strides, meta.storage_offset)
        if meta.requires_grad:
            if meta.is_leaf:
                t.requires_grad_(True)
            else:   # dense, or no elements: an op's output, which autograd must not see as a leaf
                t = non_leaf(t)
    return t


def _non_leaf_view(meta, shape: list, strides: list, offset: Any) -> torch.Tensor:
    """A non-dense op output (a slice, a transpose of one): a view of a non-leaf with exactly
    its strides and offset, as in eager. A clone would be dense, and contiguous() or reshape()
    would then be decided as aliases where eager copies. The base's storage reaches the last
    element: its own layout, with an outer dim of 2 strided by the offset when there is one
    (torch sizes that storage itself; a symbolic length given to torch.empty would cost a
    sign check through sympy's assumptions, several ms a fake)."""
    if type(offset) is int and offset == 0:
        base_shape, base_strides = shape, strides
    else:
        base_shape, base_strides = [2, *shape], [offset, *strides]
    base = empty_fake(base_shape, base_strides, meta.dtype, meta.device, torch.strided)
    return non_leaf(base).as_strided(shape, strides, offset)


def empty_fake(shape: list, strides: list, dtype: torch.dtype, device: torch.device,
               layout: torch.layout) -> torch.Tensor:
    """`torch.empty_strided(...)` under the oracle's fake mode. For a strided layout it is
    made as the mode's own constructor kernel makes it, a meta tensor wrapped as a fake of
    `device`, without the trip through fake dispatch (argument normalization and its cache
    key cost 7 times the tensor; tests/ops/test_fake_construction.py compares the two)."""
    mode = fake_mode()
    if layout is not torch.strided:
        with mode:
            return torch.empty_strided(shape, strides, dtype=dtype, device=device, layout=layout)
    with torch._C._DisableTorchDispatch():
        elem = torch.empty_strided(shape, strides, dtype=dtype, device=_META)
    return FakeTensor(mode, elem, device)


_META = torch.device("meta")


def non_leaf(t: torch.Tensor) -> torch.Tensor:
    """`t` itself (made under the fake mode, not requiring grad) turned into a non-leaf that
    requires grad, as an op's output is: the output of an autograd function that marks it
    changed in place (its version counts one change). No second tensor is made: every tensor
    with symbolic sizes costs torch's symbolic layout checks (~1-3 ms)."""
    global _anchor
    if _anchor is None or _anchor[0] is not _fake_mode:
        _anchor = (_fake_mode, torch.empty((), requires_grad=True))
    return _NonLeaf.apply(t, _anchor[1])


_anchor: tuple | None = None     # (fake mode, a leaf requiring grad made under it)


class _NonLeaf(torch.autograd.Function):
    """Its output is its first input, changed in place (as far as autograd knows) by a call
    that also took a leaf requiring grad, so the output requires grad and is no leaf."""

    @staticmethod
    def forward(ctx, t: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
        ctx.mark_dirty(t)
        return t

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple:
        return grad, None


def dense_layout(meta) -> bool:
    """A dense (permuted) layout at offset 0 at the hints: clone() and a preserve-format
    copy keep its strides."""
    if meta.storage_offset or meta.layout is not torch.strided or 0 in meta.hint_shape:
        return False
    return non_overlapping_and_dense(meta.hint_shape, meta.strides)


def non_overlapping_and_dense(sizes: tuple, strides: tuple) -> bool:
    """torch's is_non_overlapping_and_dense() of static sizes and strides: the dims of size 2
    or more, taken by increasing stride, are laid out densely."""
    expected = 1
    for size, stride in sorted(zip(sizes, strides), key=lambda d: d[1]):
        if size < 2:
            continue
        if stride != expected:
            return False
        expected *= size
    return True


def is_static(t: torch.Tensor) -> bool:
    """All sizes, strides and the offset of a (fake) tensor are plain ints (a symbolic
    probe's stand-ins are left to its kernel)."""
    return all(type(s) is int for s in t.shape) and all(type(s) is int for s in t.stride()) \
        and type(t.storage_offset()) is int


def view_key(t: torch.Tensor) -> tuple:
    """What makes two tensor objects the same view: storage, sizes, strides, offset, dtype."""
    if is_static(t):
        return (t.untyped_storage()._cdata, tuple(t.shape), t.stride(), t.storage_offset(), t.dtype)
    return (t.untyped_storage()._cdata, str(tuple(t.shape)), str(t.stride()),
            str(t.storage_offset()), t.dtype)


def fake_from_real(t: torch.Tensor) -> torch.Tensor:
    """A static fake copy of a real tensor's metadata (parameters, buffers, constants)."""
    return fake_mode().from_tensor(t, static_shapes=True)
