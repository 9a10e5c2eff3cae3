"""The oracle: run a native torch callable once on fake tensors and record its ATen calls.

A recording mode sits at the PreDispatch key, the level torch.export's pre-dispatch tracing
records at, so the overloads and normalized arguments we see are the ones torch.export puts in
its graphs (`x + 1` -> `aten.add.Tensor(x, 1)`, `F.linear` -> `aten.linear.default`). Below it,
a FakeTensorMode runs the meta kernels, which give output dtype, shape, strides and the same
errors eager would raise, without touching real data.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch._dispatch.python import enable_python_dispatcher
from torch._subclasses.fake_tensor import FakeTensorMode, disable_fake_tensor_cache
from torch._subclasses.schema_check_mode import SchemaCheckMode
from torch.fx.experimental.symbolic_shapes import ShapeEnv
from torch.utils._python_dispatch import TorchDispatchMode

from . import hint_kernels

_fake_mode: FakeTensorMode | None = None
_RESET_AFTER = 2000      # symbols in the throwaway env before a new one is made


def fake_mode() -> FakeTensorMode:
    """The process-wide fake mode used by the oracle.

    Its torch ShapeEnv is a throwaway: it only holds stand-ins for symbolic scalar arguments
    and data-dependent output sizes (see probe_symbols); fakes of tensors are static.
    """
    global _fake_mode
    if _fake_mode is None:
        _fake_mode = FakeTensorMode(allow_non_fake_inputs=True, shape_env=ShapeEnv())
    return _fake_mode


def renew_if_large() -> None:
    """Start a fresh throwaway env between traces once it has collected many stand-ins."""
    global _fake_mode
    if _fake_mode is not None and \
            len(_fake_mode.shape_env.var_to_range) > _RESET_AFTER:
        _fake_mode = None


def make_fake(meta, shape: list | None = None, strides: list | None = None) -> torch.Tensor:
    """A fake tensor with the dtype/device/autograd state of a TensorMeta, at its hint shape
    and strides unless (symbolic) ones are given."""
    shape = meta.hint_shape if shape is None else shape
    strides = meta.strides if strides is None else strides
    with fake_mode():
        t = torch.empty_strided(shape, strides, dtype=meta.dtype, device=meta.device,
                                layout=meta.layout)
        if meta.storage_offset:
            t = t.as_strided(shape, strides, meta.storage_offset)
        if meta.requires_grad:
            t.requires_grad_(True)
            if not meta.is_leaf:
                # An op's output: autograd must not treat it as a leaf.
                if _fresh_copy_keeps_layout(meta):
                    t = _NonLeaf.apply(t)
                elif 0 in meta.hint_shape:
                    t = t.clone()       # no elements: every layout is contiguous
                else:
                    t = _non_leaf_view(t, shape, strides, meta.storage_offset)
    return t


def _non_leaf_view(t: torch.Tensor, shape: list, strides: list, offset: Any) -> torch.Tensor:
    """A non-dense op output (a slice, a transpose of one): a view of a dense non-leaf with
    exactly its strides and offset, as in eager. A clone would be dense, and contiguous() or
    reshape() would then be decided as aliases where eager copies."""
    extent = offset + 1
    for size, stride in zip(shape, strides):
        extent = extent + (size - 1) * stride
    base = torch.empty(extent, dtype=t.dtype, device=t.device, requires_grad=True)
    return _NonLeaf.apply(base).as_strided(shape, strides, offset)


class _NonLeaf(torch.autograd.Function):
    """A non-leaf with its input's sizes and strides. clone() gives the same for a dense
    layout but computes its output strides through torch's symbolic contiguity checks
    (~25 ms for a fake with symbolic sizes)."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:
        return torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device=t.device,
                                   layout=t.layout)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


def _fresh_copy_keeps_layout(meta) -> bool:
    """True when clone() would keep the strides: a dense permuted layout, offset 0."""
    if meta.storage_offset or meta.layout is not torch.strided or 0 in meta.hint_shape:
        return False
    expected = 1
    for size, stride in sorted(zip(meta.hint_shape, meta.strides), key=lambda d: d[1]):
        if size == 1:
            continue
        if stride != expected:
            return False
        expected *= size
    return True


def fake_from_real(t: torch.Tensor) -> torch.Tensor:
    """A static fake copy of a real tensor's metadata (parameters, buffers, constants)."""
    return fake_mode().from_tensor(t, static_shapes=True)


@dataclass
class RecordedCall:
    op: torch._ops.OpOverload
    args: tuple
    kwargs: dict
    output: Any


_LIFT_FRESH = torch.ops.aten.lift_fresh.default
_LIFT_FRESH_COPY = torch.ops.aten.lift_fresh_copy.default


class _Recorder(SchemaCheckMode):
    """Records every ATen call that reaches the PreDispatch key.

    torch only admits a few mode classes at PreDispatch; SchemaCheckMode is the one meant for
    observing calls, so the recorder derives from it and replaces its behaviour entirely.
    With `decompose`, ops for which it answers True are not recorded but replaced by their
    CompositeImplicitAutograd decomposition, whose calls are recorded (recursively).
    """

    def __init__(self, guards: list, decompose: Callable[[Any], bool] | None = None,
                 at_hints: hint_kernels.HintKernels | None = None) -> None:
        TorchDispatchMode.__init__(self, torch._C.DispatchKey.PreDispatch)
        self.calls: list[RecordedCall] = []
        self.guards = guards                    # the throwaway torch env's guard list
        self.in_kernels: set[int] = set()       # indices of guards added inside recorded calls
        self.decompose = decompose
        self.at_hints = at_hints                # runs the call's kernel on static twins

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.decompose is not None and self.decompose(func):
            with self:      # the mode is popped while it handles a call; record the inner calls
                out = func.decompose(*args, **kwargs)
            if out is not NotImplemented:
                return out
        if func is _LIFT_FRESH:
            # A tensor made from Python data in forward (torch.tensor(...), x[i] = 1.0):
            # torch.export's tracer records a copy of the constant, never the constant itself.
            func = _LIFT_FRESH_COPY
        before = len(self.guards)
        if self.at_hints is not None:
            out = self.at_hints.run(func, args, kwargs)
        else:
            out = func(*args, **kwargs)
        self.in_kernels.update(range(before, len(self.guards)))
        self.calls.append(RecordedCall(func, args, kwargs, out))
        return out


def _autocast(dtype: torch.dtype | None) -> Any:
    """The process's CPU autocast set to `dtype` (None: off) for one probe; the weight cache
    stays off so no fake tensor outlives the probe in it."""
    if dtype is None and not torch.is_autocast_enabled("cpu"):
        return contextlib.nullcontext()      # the common case costs nothing
    return torch.autocast("cpu", dtype=dtype, enabled=dtype is not None, cache_enabled=False)


@dataclass
class ProbeResult:
    calls: list[RecordedCall]
    output: Any
    routing: list        # facts about symbolic sizes torch's routing relied on (torch exprs)
    at_hints: bool = False      # the call's kernel ran on static twins (outputs are static)


def probe(fn: Callable, args: tuple, kwargs: dict, grad_enabled: bool,
          decompose: Callable[[Any], bool] | None = None,
          autocast: torch.dtype | None = None, symbolic: bool = False,
          symbolic_metas: dict[int, Any] | None = None) -> ProbeResult:
    """Call `fn(*args, **kwargs)` on fake tensors and record the ATen calls it makes.

    `autocast`: the CPU autocast dtype the call runs under (a traced autocast region), None
    for none, whatever the process's own autocast state. Autocast sits below PreDispatch: the
    recorded calls are the ones the program contains; their outputs have autocast's dtypes.

    `symbolic`: some argument holds stand-in symbols. Fake mode's dispatch cache is then
    bypassed: entries for symbolic outputs cost more to build than the kernel and rarely hit.
    `symbolic_metas` (id of each symbolic input fake -> its TensorMeta): a compiled binding's
    ATen call may run its kernel at the hints (ops/hint_kernels.py); without it, or when the
    shortcut does not apply, the call runs symbolically.

    Guards torch adds in its throwaway env outside the recorded ATen calls are routing
    decisions (which op, which arguments) and are returned; guards inside the calls come from
    the kernels computing output shapes, which our shape rules decide instead.
    """
    if symbolic_metas and decompose is None and hint_kernels.eligible(fn):
        try:
            return _run(fn, args, kwargs, grad_enabled, None, autocast, symbolic,
                        hint_kernels.HintKernels(symbolic_metas))
        except hint_kernels.NeedsSymbolic:
            pass    # an error at the hints is eager's own error for the example inputs: raised
    return _run(fn, args, kwargs, grad_enabled, decompose, autocast, symbolic, None)


def _run(fn: Callable, args: tuple, kwargs: dict, grad_enabled: bool,
         decompose: Callable[[Any], bool] | None, autocast: torch.dtype | None, symbolic: bool,
         at_hints: hint_kernels.HintKernels | None) -> ProbeResult:
    guards = fake_mode().shape_env.guards
    start = len(guards)
    recorder = _Recorder(guards, decompose, at_hints)
    mode = fake_mode()
    no_cache = disable_fake_tensor_cache(mode) if symbolic else contextlib.nullcontext()
    with torch.set_grad_enabled(grad_enabled), _autocast(autocast), mode, no_cache, \
            enable_python_dispatcher(), recorder:
        output = fn(*args, **kwargs)
    if at_hints is not None:
        at_hints.check(output, recorder.calls)
    routing = [guards[i].expr for i in range(start, len(guards)) if i not in recorder.in_kernels]
    return ProbeResult(recorder.calls, output, routing, at_hints is not None)
