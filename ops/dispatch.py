"""ops.dispatch: turn a native torch call on proxies into ATen graph nodes.

The first call with a given signature (callable, argument structure, tensor metadata,
constants, grad mode) runs the oracle (`probe`) on fake tensors and distils what it recorded
into a `Template`: the ATen calls with each argument expressed as a reference to an input
leaf, to an earlier call's output, or a constant, plus the output metadata. Later calls with
the same signature replay the template without touching torch's dispatcher.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import torch
from torch._subclasses.fake_tensor import FakeTensor

from strict_tracer.proxy import TensorMeta, TensorProxy
from strict_tracer.symbolic import SymValue

from .probe import ProbeResult, probe


class Emitter(Protocol):
    """What the ops layer needs from the trace it emits into."""

    grad_enabled: bool

    def emit_call(self, op: Any, args: tuple, kwargs: dict, meta: Any) -> torch.fx.Node: ...

    def new_proxy(self, node: torch.fx.Node, meta: TensorMeta, origin_op: Any) -> TensorProxy: ...

    def lift_constant(self, tensor: torch.Tensor) -> TensorProxy: ...

    def symbolic_shapes(self, op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta]) -> None: ...


class UnsupportedCall(Exception):
    """The oracle could not produce a graph for this call (data-dependent output, ...)."""

    def __init__(self, message: str, data_dependent: bool = False):
        super().__init__(message)
        self.data_dependent = data_dependent


# ---------------------------------------------------------------- references in templates
@dataclass(frozen=True)
class InRef:
    index: int              # index into the flattened proxy leaves of the call


@dataclass(frozen=True)
class OutRef:
    call: int               # index of the recorded call
    item: int | None        # element of a tuple/list output, None for a single tensor


@dataclass(frozen=True)
class ConstTensor:
    tensor: torch.Tensor    # a real tensor created by the callable itself (torch.tensor(...))


@dataclass
class CallTemplate:
    op: Any
    args: Any               # structure with refs / constants
    kwargs: Any
    out_kind: str           # "tensor", "seq", "none", "other"
    out_metas: list[TensorMeta | None]
    out_refs: list[Any]     # for each output element: the ref it updates in place, else None
    seq_type: type | None = None


@dataclass
class Template:
    calls: list[CallTemplate]
    output: Any             # structure with refs / constants
    cacheable: bool = True


_cache: dict[Any, Template] = {}


def cache_size() -> int:
    return len(_cache)


def clear_template_cache() -> None:
    """Forget every learned call signature (benchmarks measure cold exports with it)."""
    _cache.clear()


# ---------------------------------------------------------------- signature / flattening
class _Uncacheable(Exception):
    pass


def _signature(value: Any, proxies: list[TensorProxy], seen: dict[int, int]) -> Any:
    """A hashable description of an argument; proxies are collected in `proxies`."""
    t = type(value)
    if t is TensorProxy:
        index = seen.get(id(value))
        if index is None:
            index = seen[id(value)] = len(proxies)
            proxies.append(value)
        m = value.meta
        return ("T", index, m.hint_shape, m.strides, m.storage_offset, m.dtype, m.device,
                m.requires_grad, m.is_leaf, m.layout)
    if t in (int, float, bool, str, type(None), torch.dtype, torch.device, torch.layout,
             torch.memory_format, type(Ellipsis)):
        return (t, value)
    if t in (list, tuple):
        return (t, tuple(_signature(v, proxies, seen) for v in value))
    if t is slice:
        return (slice, _signature(value.start, proxies, seen), _signature(value.stop, proxies, seen),
                _signature(value.step, proxies, seen))
    if t is dict:
        return (dict, tuple((k, _signature(v, proxies, seen)) for k, v in value.items()))
    if isinstance(value, torch.Size):
        return (torch.Size, tuple(value))
    if isinstance(value, SymValue):
        raise _Uncacheable()
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (t, tuple(_signature(v, proxies, seen) for v in value))
    raise _Uncacheable()


def _to_fake(value: Any) -> Any:
    t = type(value)
    if t is TensorProxy:
        return value.meta.example()
    if t in (list, tuple):
        return t(_to_fake(v) for v in value)
    if t is slice:
        return slice(_to_fake(value.start), _to_fake(value.stop), _to_fake(value.step))
    if t is dict:
        return {k: _to_fake(v) for k, v in value.items()}
    if isinstance(value, SymValue):
        raise UnsupportedCall("symbolic scalar arguments need the shape-guard engine")
    return value


def _walk_proxies(value: Any, proxies: list, seen: dict) -> None:
    t = type(value)
    if t is TensorProxy:
        if id(value) not in seen:
            seen[id(value)] = len(proxies)
            proxies.append(value)
    elif t in (list, tuple) or (isinstance(value, tuple)):
        for v in value:
            _walk_proxies(v, proxies, seen)
    elif t is dict:
        for v in value.values():
            _walk_proxies(v, proxies, seen)
    elif t is slice:
        for v in (value.start, value.stop, value.step):
            _walk_proxies(v, proxies, seen)


# ---------------------------------------------------------------- template construction
def _build_template(result: ProbeResult, input_fakes: list[torch.Tensor]) -> Template:
    refs: dict[int, Any] = {id(f): InRef(i) for i, f in enumerate(input_fakes)}
    by_view: dict[tuple, Any] = {}      # identical views of one storage -> ref
    cacheable = True

    def ref_of(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            r = refs.get(id(value))
            if r is not None:
                return r
            if isinstance(value, FakeTensor):
                # Factories re-wrap their result (autograd's make_variable makes a shallow copy
                # when the tensor is shared): same storage and view, new Python object.
                r = by_view.get(_view_key(value))
                if r is None:
                    raise UnsupportedCall("the call used a tensor the tracer does not know")
                return r
            return ConstTensor(value)
        if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size):
            items = [ref_of(v) for v in value]
            if type(value) in (list, tuple):
                return type(value)(items)
            if hasattr(value, "_fields") or _is_structseq(value):
                return _StructRef(type(value), tuple(items))
            return tuple(items)
        if isinstance(value, dict):
            return {k: ref_of(v) for k, v in value.items()}
        if isinstance(value, torch.SymInt):
            raise UnsupportedCall("symbolic sizes in torch calls need the shape-guard engine")
        return value

    calls: list[CallTemplate] = []
    for index, rc in enumerate(result.calls):
        args = ref_of(rc.args)
        kwargs = ref_of(rc.kwargs)
        out = rc.output
        if isinstance(out, torch.Tensor):
            out_kind, elems, seq_type = "tensor", [out], None
        elif isinstance(out, (list, tuple)) and all(isinstance(o, torch.Tensor) for o in out):
            out_kind, elems, seq_type = "seq", list(out), type(out)
        elif out is None:
            out_kind, elems, seq_type = "none", [], None
        elif _tensors_in(out):
            raise UnsupportedCall(f"{rc.op} returns a structure the tracer cannot represent")
        else:
            out_kind, elems, seq_type = "other", [], None
        metas, updated = [], []
        for k, o in enumerate(elems):
            metas.append(TensorMeta.from_tensor(o))
            updated.append(refs.get(id(o)))
            if id(o) not in refs:
                refs[id(o)] = OutRef(index, None if out_kind == "tensor" else k)
            by_view[_view_key(o)] = refs[id(o)]
        calls.append(CallTemplate(rc.op, args, kwargs, out_kind, metas, updated, seq_type))

    output = ref_of(result.output)
    # A callable that changed an input's metadata without any ATen call (requires_grad_())
    # cannot be replayed from a cache.
    touched = {id(o) for c in result.calls for o in _tensors_in(c.output)}
    for f in _tensors_in(result.output):
        if id(f) in {id(x) for x in input_fakes} and id(f) not in touched:
            cacheable = False
    return Template(calls, output, cacheable)


def _view_key(t: torch.Tensor) -> tuple:
    return (t.untyped_storage()._cdata, tuple(t.shape), t.stride(), t.storage_offset(), t.dtype)


@dataclass(frozen=True)
class _StructRef:
    type: type
    items: tuple


def _is_structseq(value: Any) -> bool:
    return type(value).__module__ == "torch.return_types"


def _tensors_in(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors_in(v)]
    return []


# ---------------------------------------------------------------- replay
@dataclass
class _ReplayState:
    inputs: list[TensorProxy]
    outputs: list[list[TensorProxy | None]] = field(default_factory=list)
    lifted: dict[int, TensorProxy] = field(default_factory=dict)


def _resolve_proxy(ref: Any, state: _ReplayState, emit: Emitter) -> Any:
    if type(ref) is InRef:
        return state.inputs[ref.index]
    if type(ref) is OutRef:
        produced = state.outputs[ref.call]
        return produced[0 if ref.item is None else ref.item]
    if type(ref) is ConstTensor:
        p = state.lifted.get(id(ref.tensor))
        if p is None:
            p = state.lifted[id(ref.tensor)] = emit.lift_constant(ref.tensor)
        return p
    if type(ref) is _StructRef:
        return ref.type(tuple(_resolve_proxy(v, state, emit) for v in ref.items))
    if type(ref) in (list, tuple):
        return type(ref)(_resolve_proxy(v, state, emit) for v in ref)
    if type(ref) is dict:
        return {k: _resolve_proxy(v, state, emit) for k, v in ref.items()}
    return ref


def _to_nodes(value: Any) -> Any:
    t = type(value)
    if t is TensorProxy:
        return value.node
    if t in (list, tuple):
        return t(_to_nodes(v) for v in value)
    if t is dict:
        return {k: _to_nodes(v) for k, v in value.items()}
    return value


def _replay(template: Template, proxies: list[TensorProxy], emit: Emitter,
            fresh_metas: list[list[TensorMeta]] | None) -> Any:
    state = _ReplayState(proxies)
    for index, ct in enumerate(template.calls):
        args = _resolve_proxy(ct.args, state, emit)
        kwargs = _resolve_proxy(ct.kwargs, state, emit)
        metas = fresh_metas[index] if fresh_metas is not None else [_copy_meta(m) for m in ct.out_metas]
        emit.symbolic_shapes(ct.op, args, kwargs, metas)
        node_meta = metas[0] if ct.out_kind == "tensor" else (metas if ct.out_kind == "seq" else None)
        node = emit.emit_call(ct.op, _to_nodes(args), _to_nodes(kwargs), node_meta)
        produced: list[TensorProxy | None] = []
        if ct.out_kind == "tensor":
            produced.append(_bind_output(node, metas[0], ct.out_refs[0], state, emit, ct.op))
        elif ct.out_kind == "seq":
            for k, meta in enumerate(metas):
                item_node = emit.emit_call(operator.getitem, (node, k), {}, meta)
                produced.append(_bind_output(item_node, meta, ct.out_refs[k], state, emit, ct.op))
        state.outputs.append(produced)
    return _resolve_proxy(template.output, state, emit)


def _bind_output(node, meta, updated_ref, state: _ReplayState, emit: Emitter, op) -> TensorProxy:
    if updated_ref is not None:
        # The op returned one of its inputs (in-place op, out=, or `.to()` that was a no-op):
        # keep Python identity and make later uses read the new node.
        proxy = _resolve_proxy(updated_ref, state, emit)
        proxy.node = node
        proxy.meta = meta
        return proxy
    return emit.new_proxy(node, meta, op)


def _copy_meta(m: TensorMeta) -> TensorMeta:
    return TensorMeta(m.shape, m.dtype, m.device, m.requires_grad, m.strides, m.storage_offset, m.layout,
                      is_leaf=m.is_leaf)


# ---------------------------------------------------------------- entry point
def dispatch(fn: Callable, args: tuple, kwargs: dict, emit: Emitter) -> Any:
    """Call native torch callable `fn` on (possibly proxy) arguments, emitting graph nodes."""
    proxies: list[TensorProxy] = []
    seen: dict[int, int] = {}
    try:
        key = (fn, emit.grad_enabled, _signature(args, proxies, seen), _signature(kwargs, proxies, seen))
        template = _cache.get(key)
    except _Uncacheable:
        key = None
        template = None
        proxies, seen = [], {}
        _walk_proxies(args, proxies, seen)
        _walk_proxies(kwargs, proxies, seen)
    except TypeError:  # an unhashable constant inside the signature
        key = None
        template = None
    if template is not None:
        return _replay(template, proxies, emit, None)

    fakes = [p.meta.example() for p in proxies]
    fake_args = _to_fake(args)
    fake_kwargs = _to_fake(kwargs)
    try:
        result = probe(fn, fake_args, fake_kwargs, emit.grad_enabled)
    except (torch._subclasses.fake_tensor.DataDependentOutputException,
            torch._subclasses.fake_tensor.DynamicOutputShapeException) as exc:
        raise UnsupportedCall(f"{_name(fn)} needs tensor data ({exc})", data_dependent=True) from None
    template = _build_template(result, fakes)
    if key is not None and template.cacheable:
        _cache[key] = template
    # The first replay can use the oracle's own fakes as examples.
    fresh = [[TensorMeta.from_tensor(o) for o in _tensors_in(rc.output)] for rc in result.calls]
    for rc, metas in zip(result.calls, fresh):
        for o, m in zip(_tensors_in(rc.output), metas):
            m._example = o
    return _replay(template, proxies, emit, fresh)


def _name(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
