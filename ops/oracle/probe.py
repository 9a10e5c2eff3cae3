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
from torch._subclasses.fake_tensor import disable_fake_tensor_cache
from torch._subclasses.schema_check_mode import SchemaCheckMode
from torch.utils._python_dispatch import TorchDispatchMode

from . import hint_kernels, pre_dispatch, view_kernels

from .fakes import fake_mode
from .hint_outputs import known_output
from .iterator_layout import eager_layout


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

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False    # no Dynamo-disabling wrapper: see view_kernels._FAKE_DISPATCH

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
            out = known_output(func, args, kwargs)      # static inputs only
            if out is None:
                out = eager_layout(func, args, kwargs, view_kernels.call(func, args, kwargs))
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
          symbolic_metas: dict[int, Any] | None = None, lender: Any = None,
          routing: list | None = None) -> ProbeResult:
    """Call `fn(*args, **kwargs)` on fake tensors and record the ATen calls it makes.

    `autocast`: the CPU autocast dtype the call runs under (a traced autocast region), None
    for none, whatever the process's own autocast state. Autocast sits below PreDispatch: the
    recorded calls are the ones the program contains; their outputs have autocast's dtypes.

    `symbolic`: some argument holds stand-in symbols. Fake mode's dispatch cache is then
    bypassed: entries for symbolic outputs cost more to build than the kernel and rarely hit.
    `symbolic_metas` (id of each symbolic input fake -> its TensorMeta): a compiled binding's
    ATen call, or the one call a decomposition ends in (hint_kernels.decomposes_to_one_call),
    may run its kernel at the hints (ops/hint_kernels.py); without it, or when the shortcut
    does not apply, the call runs symbolically. `lender`: where the static twins come
    from and go back to (the trace's StandInPool), if anywhere.

    Guards torch adds in its throwaway env outside the recorded ATen calls are routing
    decisions (which op, which arguments) and are returned (after those already in `routing`,
    from an earlier run of the same call); guards inside the calls come from the kernels
    computing output shapes, which our shape rules decide instead.
    """
    routing = [] if routing is None else routing
    if symbolic_metas and (hint_kernels.eligible(fn) if decompose is None
                           else hint_kernels.decomposes_to_one_call(fn)):
        try:
            return _run(fn, args, kwargs, grad_enabled, decompose, autocast, symbolic,
                        hint_kernels.HintKernels(symbolic_metas, lender,
                                                 constant_factories=decompose is not None),
                        routing)
        except hint_kernels.NeedsSymbolic:
            # An error at the hints is eager's own error for the example inputs: raised.
            # The routing facts the first run taught torch's env are not taught twice: kept.
            pass
    return _run(fn, args, kwargs, grad_enabled, decompose, autocast, symbolic, None, routing)


def probe_with_twins(fn: Callable, args: tuple, kwargs: dict, grad_enabled: bool,
                     autocast: torch.dtype | None, twins: list[torch.Tensor], lender: Any,
                     routing: list, decompose: Callable[[Any], bool] | None = None) -> ProbeResult:
    """`probe` of a binding called with static twins in place of its symbolic tensors (`twins`:
    those in `args`/`kwargs`), its scalar arguments still stand-ins: no symbolic fake is made.
    With `decompose`, `fn` is an overload whose decomposition never asks about sizes
    (hint_kernels.decomposes_on_twins). Raises hint_kernels.NeedsSymbolic where the run cannot
    stand for a symbolic one (HintKernels' `inputs`); routing facts it taught torch's env are
    appended to `routing`."""
    at_hints = hint_kernels.HintKernels({}, lender, inputs=twins, returns_input=decompose is not None)
    return _run(fn, args, kwargs, grad_enabled, decompose, autocast, False, at_hints, routing)


def _run(fn: Callable, args: tuple, kwargs: dict, grad_enabled: bool,
         decompose: Callable[[Any], bool] | None, autocast: torch.dtype | None, symbolic: bool,
         at_hints: hint_kernels.HintKernels | None, routing: list) -> ProbeResult:
    """One run of the oracle; the routing guards it adds are appended to `routing` (also
    when the run fails: torch's env keeps them, and a rerun would not add them again)."""
    guards = fake_mode().shape_env.guards
    start = len(guards)
    recorder = _Recorder(guards, decompose, at_hints)
    mode = fake_mode()
    pre_dispatch.prune()
    no_cache = disable_fake_tensor_cache(mode) if symbolic else contextlib.nullcontext()
    try:
        with torch.set_grad_enabled(grad_enabled), _autocast(autocast), mode, no_cache, \
                enable_python_dispatcher(), recorder:
            output = fn(*args, **kwargs)
    finally:
        routing.extend(guards[i].expr for i in range(start, len(guards))
                       if i not in recorder.in_kernels)
    if at_hints is not None:
        at_hints.check(output, recorder.calls)
    # No ATen call (`x.contiguous()` of a contiguous x returns x): nothing ran at the hints,
    # the run was symbolic throughout and needs no second one.
    return ProbeResult(recorder.calls, output, routing, at_hints is not None and at_hints.used)
