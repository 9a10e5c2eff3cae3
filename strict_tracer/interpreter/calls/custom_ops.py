"""Custom operators (`torch.library.custom_op`, `torch.library.register_fake`).

A custom op becomes one node of its own (the oracle resolves `torch.ops.ns.op(...)` and the
`CustomOpDef` object alike to its OpOverload). Its output shapes come from its Python fake
implementation, which our interpreter runs on the call's own proxies in a throwaway graph: the
shapes it builds are symbolic (`x.new_empty(x.shape[0] + n, ...)` gives `s0 + n`), its size
comparisons are guards, and `torch.library.get_ctx().new_dynamic_size()` is a fresh unbacked
size. The oracle, which ran the fake implementation on static fakes, checks the result at the
hints.
"""
from __future__ import annotations

from typing import Any

import torch
from torch._library import simple_registry
from torch._library.custom_ops import CustomOpDef

from ...errors import InternalTracerError
from ...ops.shape_rules import has_symbolic
from ...proxy import TensorMeta, TensorProxy
from ...symbolic import SymInt, SymValue
from ..registry import CALL_SPECIAL, special

_kernels: dict[Any, Any] = {}


def fake_kernel(op: Any) -> Any:
    """The Python fake implementation registered for a non-ATen OpOverload, or None."""
    try:
        return _kernels[op]
    except KeyError:
        pass
    except TypeError:
        return None
    kernel = None
    if isinstance(op, torch._ops.OpOverload) and op.namespace not in ("aten", "prims"):
        entry = simple_registry.singleton.find(op._schema.name)
        if entry.fake_impl.kernel is not None:
            kernel = entry.fake_impl.kernel.func
    _kernels[op] = kernel
    return kernel


def needs_fake_kernel(op: Any, args: tuple, kwargs: dict) -> bool:
    return fake_kernel(op) is not None and (has_symbolic(args) or has_symbolic(kwargs))


def apply_fake_kernel(interp, op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta]) -> None:
    """Replace the hint shapes in `outputs` by the shapes the fake implementation builds."""
    from ...trace.subgraph import SubgraphBuilder, trace_body
    builder = SubgraphBuilder(interp, interp.state.graph, f"the fake implementation of {op}")
    ctx = FakeContext(interp, str(op), builder)
    outer, interp.fake_context = getattr(interp, "fake_context", None), ctx
    try:
        result = trace_body(interp, builder, fake_kernel(op), args, kwargs)
    finally:
        interp.fake_context = outer
        ctx.forget()
    produced = _tensors(result)
    if len(produced) != len(outputs):
        raise InternalTracerError(f"the fake implementation of {op} returned {len(produced)} "
                                  f"tensors, the op {len(outputs)}")
    for proxy, meta in zip(produced, outputs):
        shape = []
        for got, want in zip(proxy.meta.shape, meta.shape):
            if isinstance(want, SymValue) and want.hint is None:
                shape.append(want)         # the oracle's data-dependent size, bound to the node
                continue
            hint = got.hint if isinstance(got, SymValue) else got
            if hint is not None and hint != (want.hint if isinstance(want, SymValue) else want):
                raise InternalTracerError(f"the fake implementation of {op} gives shape "
                                          f"{proxy.meta.shape}, the oracle {meta.shape}")
            shape.append(got)
        meta.shape = tuple(shape)


def _tensors(value: Any) -> list[TensorProxy]:
    if type(value) is TensorProxy:
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


class FakeContext:
    """What `torch.library.get_ctx()` returns inside an interpreted fake implementation.

    Data-dependent sizes it creates only live in the throwaway graph: the op's own node gets
    the oracle's unbacked sizes (the oracle ran the same fake implementation)."""

    _strict_tracer_native = True

    def __init__(self, interp, op_name: str, builder) -> None:
        self._interp = interp
        self._op_name = op_name
        self._builder = builder
        self._created: list = []

    def forget(self) -> None:
        bindings = self._interp.state.sym_nodes.bindings
        for symbol in self._created:
            bindings.pop(symbol, None)

    def new_dynamic_size(self, *, min: int = 0, max: int | None = None) -> SymInt:
        if isinstance(min, SymValue) or isinstance(max, SymValue):
            raise ValueError(f"ctx.new_dynamic_size(min={min}, max={max}): expected min and max "
                             "to be statically known ints")
        if min < 0:
            raise ValueError(f"ctx.new_dynamic_size(min={min}, ...): expected min to be greater "
                             "than or equal to 0")
        env = self._interp.state.shape_env
        upper = float("inf") if max is None else max
        size = env.create_unbacked(f"a data-dependent size of {self._op_name}", SymInt,
                                   lower=min, upper=upper, size_like=True)
        symbol = size.expr
        self._created.append(symbol)
        self._interp.state.sym_nodes.bind_value(symbol, self._builder.graph.placeholder("size"))
        return size

    def create_unbacked_symint(self, *, min: int = 2, max: int | None = None) -> SymInt:
        return self.new_dynamic_size(min=min, max=max)


@special(torch.library.get_ctx)
def _get_ctx(interp, args, kwargs):
    return getattr(interp, "fake_context", None)    # None outside fake implementations


def _call_custom_op(interp, op_def: CustomOpDef, args: tuple, kwargs: dict) -> Any:
    # CustomOpDef.__call__ calls its OpOverload: record that call at the user's line.
    return interp.tensors.op(op_def._opoverload, args, kwargs)


CALL_SPECIAL[CustomOpDef] = _call_custom_op
