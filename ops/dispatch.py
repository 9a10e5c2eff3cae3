"""ops.dispatch: turn a native torch call on proxies into ATen graph nodes.

The first call with a given signature (callable, argument structure, tensor metadata,
constants, grad mode, autocast dtype) runs the oracle (`probe`) on fake tensors and distils what it recorded
into a `Template`: the ATen calls with each argument expressed as a reference to an input
leaf, to an earlier call's output, or a constant, plus the output metadata. Later calls with
the same signature replay the template without touching torch's dispatcher.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import torch

from strict_tracer.proxy import TensorMeta, TensorProxy
from strict_tracer.symbolic import SymBool, SymValue

from .oracle import hint_kernels
from .oracle.hint_kernels import tensors_in
from .template_refs import (ConstTensor, InRef, OutRef, Refs, StructRef, SymRef,
                            UnsupportedCall, mixed_refs)
from .oracle.fakes import example_of, fake_mode, is_static, make_fake, view_key
from .oracle.probe import ProbeResult, probe, probe_with_twins
from .call_signature import SymArgs, lookup, to_fake
from .oracle.probe_symbols import ProbeSymbols
from .user_text import in_user_terms, quiet_meta_failures


class Emitter(Protocol):
    """What the ops layer needs from the trace it emits into."""

    grad_enabled: bool
    autocast: torch.dtype | None   # CPU autocast dtype of the calls emitted now (None: off)
    shape_env: Any          # strict_tracer.symbolic.ShapeEnv of the trace

    def emit_call(self, op: Any, args: tuple, kwargs: dict, meta: Any) -> torch.fx.Node: ...

    def new_proxy(self, node: torch.fx.Node, meta: TensorMeta, origin_op: Any) -> TensorProxy: ...

    def lift_constant(self, tensor: torch.Tensor) -> TensorProxy: ...

    def symbolic_shapes(self, op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta]) -> None: ...

    def sym_node(self, value: SymValue) -> Any: ...

    def bind_scalar(self, value: SymValue, node: torch.fx.Node) -> None: ...


@dataclass
class CallTemplate:
    op: Any
    args: Any               # structure with refs / constants
    kwargs: Any
    out_kind: str           # "tensor", "seq", "none", "other"
    out_metas: list[TensorMeta | None]
    out_refs: list[Any]     # for each output element: the ref it updates in place, else None
    seq_type: type | None = None
    out_scalar: SymRef | None = None    # a number read from data (`aten.item`): a new symbol
    out_items: tuple = ()   # "mixed" (tensors and numbers): OutRef / SymRef / number per item


@dataclass
class Template:
    calls: list[CallTemplate]
    output: Any             # structure with refs / constants
    cacheable: bool = True
    probe: ProbeSymbols | None = None   # stand-ins for the call's symbolic values
    routing: list = field(default_factory=list)   # conditions torch's routing relied on


_cache: dict[Any, Template] = {}


def cache_size() -> int:
    return len(_cache)


def clear_template_cache() -> None:
    """Forget every learned call signature (benchmarks measure cold exports with it)."""
    from .kernel_shapes import clear_cache
    _cache.clear()
    clear_cache()


# ---------------------------------------------------------------- template construction
_MIXED_ITEMS = (torch.Tensor, int, float, bool, torch.SymInt, torch.SymFloat, torch.SymBool)


def _output_kind(rc: Any) -> tuple[str, list, type | None]:
    """(kind, tensors, sequence type) of a recorded call's output."""
    out = rc.output
    if isinstance(out, torch.Tensor):
        return "tensor", [out], None
    if isinstance(out, (list, tuple)) and all(isinstance(o, torch.Tensor) for o in out):
        return "seq", list(out), type(out)
    if out is None:
        return "none", [], None
    if isinstance(out, (list, tuple)) and all(isinstance(o, _MIXED_ITEMS) for o in out):
        return "mixed", [o for o in out if isinstance(o, torch.Tensor)], type(out)
    if tensors_in(out):
        raise UnsupportedCall(f"{rc.op} returns a structure the tracer cannot represent")
    return "other", [], None


def _build_template(result: ProbeResult, input_fakes: list[torch.Tensor],
                    input_metas: list[TensorMeta], probe_syms: ProbeSymbols, sym_args: list,
                    env: Any) -> Template:
    refs = Refs(input_fakes)
    calls: list[CallTemplate] = []
    for index, rc in enumerate(result.calls):
        args = refs.ref_of(rc.args)
        kwargs = refs.ref_of(rc.kwargs)
        out_kind, elems, seq_type = _output_kind(rc)
        scalar = _data_scalar(rc.output, probe_syms)     # its symbol is new on every replay
        metas, updated = [], []
        for k, o in enumerate(elems):
            metas.append(_hint_meta(o, probe_syms, sym_args, env))
            updated.append(refs.refs.get(id(o)))
            if id(o) not in refs.refs:
                refs.refs[id(o)] = OutRef(index, None if out_kind == "tensor" else k)
            refs.by_view[view_key(o)] = refs.refs[id(o)]
        items = mixed_refs(rc.output, index, refs) if out_kind == "mixed" else ()
        calls.append(CallTemplate(rc.op, args, kwargs, out_kind, metas, updated, seq_type, scalar,
                                  items))
    output = refs.ref_of(result.output)
    cacheable = _replayable(result, input_fakes, input_metas) and \
        all(c.out_scalar is None for c in calls)
    return Template(calls, output, cacheable, probe_syms if probe_syms.values else None,
                    result.routing)


def _replayable(result: ProbeResult, input_fakes: list[torch.Tensor],
                input_metas: list[TensorMeta]) -> bool:
    """A callable that changed an input's metadata without any ATen call (requires_grad_())
    cannot be replayed from a cache; one that returned an input unchanged (`x.to(x.dtype)`,
    `x.contiguous()` of a contiguous x) can."""
    touched = {id(o) for c in result.calls for o in tensors_in(c.output)}
    meta_of = {id(x): m for x, m in zip(input_fakes, input_metas)}
    for f in tensors_in(result.output):
        m = meta_of.get(id(f))
        if m is not None and id(f) not in touched and \
                (f.requires_grad, f.is_leaf, f.dtype) != (m.requires_grad, m.is_leaf, m.dtype):
            return False
    return True


def _data_scalar(out: Any, probe_syms: ProbeSymbols) -> SymRef | None:
    """The number a call read from tensor data, if it returned one: `torch.full(size, t)` with
    a 0-dim tensor `t` calls `aten.item(t)` and passes its value on."""
    if not isinstance(out, (torch.SymInt, torch.SymFloat, torch.SymBool)):
        return None
    expr = out.node._expr
    if expr.free_symbols <= set(probe_syms.params):
        return None
    return SymRef(expr, type(out))


def _hint_meta(o: torch.Tensor, probe_syms: ProbeSymbols, sym_args: list, env: Any) -> TensorMeta:
    """Metadata at the hints: symbolic sizes are a shape rule's business."""
    if is_static(o):
        return TensorMeta.from_tensor(o)

    def hint(v):
        return probe_syms.example_int(v, sym_args, env)
    return TensorMeta(tuple(hint(s) for s in o.shape), o.dtype, o.device, o.requires_grad,
                      tuple(hint(s) for s in o.stride()), hint(o.storage_offset()), o.layout,
                      is_leaf=o.is_leaf)


def _data_dependent_meta(o: torch.Tensor, probe_syms: ProbeSymbols, sym_args: list,
                         env) -> TensorMeta:
    """Metadata of an output whose sizes depend on data: those sizes are unbacked symbols."""
    def value(v):
        if type(v) is int:
            return v
        if not _has_unbacked(v, probe_syms):
            return probe_syms.example_int(v, sym_args, env)
        return probe_syms.value_of(v.node._expr, sym_args, torch.SymInt, env)

    def example(v):
        return probe_syms.example_int(v, sym_args, env)
    shape = tuple(value(s) for s in o.shape)      # sizes first: they name the unbacked symbols
    return TensorMeta(shape, o.dtype, o.device, o.requires_grad,
                      tuple(example(s) for s in o.stride()), example(o.storage_offset()), o.layout,
                      is_leaf=o.is_leaf)


def _has_unbacked(v: Any, probe_syms: ProbeSymbols) -> bool:
    if type(v) is int:
        return False
    free = v.node._expr.free_symbols
    return any(s not in probe_syms.params for s in free)


# ---------------------------------------------------------------- replay
@dataclass
class _ReplayState:
    inputs: list[TensorProxy]
    sym_args: list[SymValue] = field(default_factory=list)
    probe: ProbeSymbols | None = None
    env: Any = None
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
    if type(ref) is StructRef:
        return ref.type(tuple(_resolve_proxy(v, state, emit) for v in ref.items))
    if type(ref) in (list, tuple):
        return type(ref)(_resolve_proxy(v, state, emit) for v in ref)
    if type(ref) is dict:
        return {k: _resolve_proxy(v, state, emit) for k, v in ref.items()}
    if type(ref) is SymRef:
        return state.probe.value_of(ref.expr, state.sym_args, ref.torch_type, state.env)
    return ref


def _to_nodes(value: Any, emit: Emitter) -> Any:
    t = type(value)
    if t is TensorProxy:
        return value.node
    if t in (list, tuple):
        return t(_to_nodes(v, emit) for v in value)
    if t is dict:
        return {k: _to_nodes(v, emit) for k, v in value.items()}
    if isinstance(value, SymValue):
        return emit.sym_node(value)
    return value


def _replay(template: Template, proxies: list[TensorProxy], emit: Emitter,
            fresh_metas: list[list[TensorMeta]] | None, sym_args: list[SymValue],
            probe_syms: ProbeSymbols | None = None) -> Any:
    probe_syms = probe_syms or template.probe
    state = _ReplayState(proxies, sym_args, probe_syms, emit.shape_env)
    for value in sym_args:
        if isinstance(value, SymBool) and value.env.hint_value(value.expr) is not None:
            bool(value)             # the oracle ran with its value: guard it
    for condition in template.routing:
        # The ATen calls torch chose depend on these facts about sizes (x[:, :6] is an alias
        # only while x.size(1) <= 6): our engine decides them, recording guards.
        fact = probe_syms.value_of(condition, sym_args, torch.SymBool, emit.shape_env)
        if not fact:
            raise UnsupportedCall(f"the call's routing needs {condition}, which does not hold")
    for index, ct in enumerate(template.calls):
        args = _resolve_proxy(ct.args, state, emit)
        kwargs = _resolve_proxy(ct.kwargs, state, emit)
        metas = fresh_metas[index] if fresh_metas is not None else [_copy_meta(m) for m in ct.out_metas]
        emit.symbolic_shapes(ct.op, args, kwargs, metas)
        node_meta = metas[0] if ct.out_kind == "tensor" else (metas if ct.out_kind == "seq" else None)
        if ct.out_kind == "mixed":
            node_meta = [metas[i.item] if type(i) is OutRef else _resolve_proxy(i, state, emit)
                         for i in ct.out_items]
        scalar = None
        if ct.out_scalar is not None:
            scalar = node_meta = probe_syms.adopt_scalar(ct.out_scalar.expr, ct.out_scalar.torch_type,
                                                         emit.shape_env, f"{ct.op}")
        node = emit.emit_call(ct.op, _to_nodes(args, emit), _to_nodes(kwargs, emit), node_meta)
        if scalar is not None:
            emit.bind_scalar(scalar, node)      # the node computes the new symbol's value
        produced: list[TensorProxy | None] = []
        if ct.out_kind == "tensor":
            produced.append(_bind_output(node, metas[0], ct.out_refs[0], state, emit, ct.op))
        elif ct.out_kind == "seq":
            for k, meta in enumerate(metas):
                item_node = emit.emit_call(operator.getitem, (node, k), {}, meta)
                produced.append(_bind_output(item_node, meta, ct.out_refs[k], state, emit, ct.op))
        elif ct.out_kind == "mixed":
            produced = _mixed_items(node, node_meta, ct, state, emit, probe_syms)
        state.outputs.append(produced)
    return _resolve_proxy(template.output, state, emit)


def _mixed_items(node, items: list, ct: CallTemplate, state: _ReplayState, emit: Emitter,
                 probe_syms: ProbeSymbols) -> list:
    """A tuple of tensors and numbers (a custom op's `(Tensor, SymInt)`): getitems of the
    tensors, and of each number that is a new symbol (which its getitem then computes)."""
    produced = []
    for position, (ref, value) in enumerate(zip(ct.out_items, items)):
        if type(ref) is OutRef:
            item_node = emit.emit_call(operator.getitem, (node, position), {}, value)
            produced.append(_bind_output(item_node, value, ct.out_refs[ref.item], state, emit,
                                         ct.op))
        elif type(ref) is SymRef and not ref.expr.free_symbols <= set(probe_syms.params):
            emit.bind_scalar(value, emit.emit_call(operator.getitem, (node, position), {}, value))
    return produced


def _bind_output(node, meta, updated_ref, state: _ReplayState, emit: Emitter, op) -> TensorProxy:
    if updated_ref is not None:
        # The op returned one of its inputs (in-place op, out=, or `.to()` that was a no-op):
        # keep Python identity and make later uses read the new node.
        proxy = _resolve_proxy(updated_ref, state, emit)
        if proxy.node.graph is node.graph:
            # A tensor of an enclosing graph (read inside a control-flow body) keeps its node:
            # the body may not write it, and an op that returns it unchanged returns it.
            proxy.node = node
            proxy.meta = meta
        return proxy
    return emit.new_proxy(node, meta, op)


def _copy_meta(m: TensorMeta) -> TensorMeta:
    return TensorMeta(m.shape, m.dtype, m.device, m.requires_grad, m.strides, m.storage_offset, m.layout,
                      is_leaf=m.is_leaf)


# ---------------------------------------------------------------- entry point
def dispatch(fn: Callable, args: tuple, kwargs: dict, emit: Emitter,
             decompose: Callable[[Any], bool] | None = None) -> Any:
    """Call native torch callable `fn` on (possibly proxy) arguments, emitting graph nodes.

    `decompose(op)` (optional) selects ATen ops to replace by their CompositeImplicitAutograd
    decomposition instead of recording them (the functionalization pass uses it).
    """
    autocast = emit.autocast
    key, template, proxies, syms = lookup(_cache, (fn, decompose, emit.grad_enabled, autocast),
                                          args, kwargs, emit.shape_env)
    sym_args = syms.values
    if template is not None:
        return _replay(template, proxies, emit, None, sym_args)

    probe_syms = ProbeSymbols(fake_mode().shape_env, emit.shape_env, sym_args, syms.recipes)
    try:
        with quiet_meta_failures():
            result, fakes = _run_oracle(fn, args, kwargs, emit, decompose, proxies, probe_syms,
                                        syms)
    except (torch._subclasses.fake_tensor.DataDependentOutputException,
            torch._subclasses.fake_tensor.DynamicOutputShapeException,
            torch.fx.experimental.symbolic_shapes.GuardOnDataDependentSymNode) as exc:
        raise UnsupportedCall(f"{_name(fn)} needs tensor data ({exc})", data_dependent=True) from None
    except Exception as exc:   # the program's own error: told with its tensors' classes
        raise in_user_terms(exc, proxies)
    finally:
        probe_syms.give_back()
        probe_syms.pool.settle()
    template = _build_template(result, fakes, [p.meta for p in proxies], probe_syms, sym_args,
                               emit.shape_env)
    for ct in template.calls:
        if ct.out_scalar is not None:   # named before sizes computed from it (torch.empty(t))
            probe_syms.adopt_scalar(ct.out_scalar.expr, ct.out_scalar.torch_type, emit.shape_env,
                                    f"{ct.op}")
    fresh = _fresh_metas(result, probe_syms, sym_args, emit.shape_env)
    if probe_syms.unbacked or _returns_symbolic(result.output):
        template.cacheable = False
    _forget_changed_examples(proxies, fakes)
    if key is not None and template.cacheable:
        _cache[key] = template
        if template.probe is not None:
            template.probe.env = None       # a cached template must not keep a trace alive
    return _replay(template, proxies, emit, fresh, sym_args, probe_syms)


def _run_oracle(fn: Callable, args: tuple, kwargs: dict, emit: Emitter,
                decompose: Callable[[Any], bool] | None, proxies: list[TensorProxy],
                probe_syms: ProbeSymbols, syms: SymArgs) -> tuple[ProbeResult, list]:
    """The oracle's run of a call, and the fake it gave each proxy: static twins of the
    symbolic tensors where the binding takes them (hint_kernels.takes_twins), else fakes with
    stand-in sizes."""
    routing: list = []
    on_twins = hint_kernels.takes_twins(fn) if decompose is None else \
        hint_kernels.decomposes_on_twins(fn, args, kwargs)
    if syms.values and on_twins and not any(p.meta.sized_by_data for p in proxies):
        twins = _distinct_fakes(proxies, None, syms)
        by_id = {id(p): f for p, f in zip(proxies, twins)}
        try:
            return probe_with_twins(
                fn, to_fake(args, probe_syms, by_id, syms), to_fake(kwargs, probe_syms, by_id, syms),
                emit.grad_enabled, emit.autocast,
                [t for p, t in zip(proxies, twins) if not p.meta.is_static], probe_syms.pool,
                routing, decompose), twins
        except hint_kernels.NeedsSymbolic:
            _forget_changed_examples(proxies, twins)
    fakes = _distinct_fakes(proxies, probe_syms, syms)
    by_id = {id(p): f for p, f in zip(proxies, fakes)}
    result = probe(fn, to_fake(args, probe_syms, by_id, syms), to_fake(kwargs, probe_syms, by_id, syms),
                   emit.grad_enabled, decompose, emit.autocast, symbolic=bool(syms.values),
                   symbolic_metas={id(f): p.meta for p, f in zip(proxies, fakes)
                                   if not p.meta.is_static}, lender=probe_syms.pool,
                   routing=routing)
    return result, fakes


def _fresh_metas(result: ProbeResult, probe_syms: ProbeSymbols, sym_args: list,
                 env: Any) -> list[list[TensorMeta]]:
    """The outputs' metadata for the first replay: it can use the oracle's own fakes as
    examples; sizes that depend on data become unbacked symbols (and such a template cannot
    be reused)."""
    fresh = []
    for rc in result.calls:
        metas = []
        for o in tensors_in(rc.output):
            if is_static(o):
                m = TensorMeta.from_tensor(o)
                if not result.at_hints:     # a twin's output is no example of a symbolic one
                    m._example = o
            elif any(_has_unbacked(v, probe_syms) for v in o.shape):
                m = _data_dependent_meta(o, probe_syms, sym_args, env)
            else:
                m = _hint_meta(o, probe_syms, sym_args, env)
            metas.append(m)
        fresh.append(metas)
    return fresh


def _forget_changed_examples(proxies: list[TensorProxy], fakes: list) -> None:
    """An in-place view op (t_, unsqueeze_) changed the fake itself: it no longer matches the
    metadata that earlier graph nodes still hold, so it cannot be their example."""
    for p, f in zip(proxies, fakes):
        m = p.meta
        if m._example is f and is_static(f) and \
                (tuple(f.shape), f.stride(), f.storage_offset()) != (m.hint_shape, m.strides, m.storage_offset):
            m._example = None


def _distinct_fakes(proxies: list[TensorProxy], probe_syms: ProbeSymbols | None,
                    syms: SymArgs) -> list:
    """One fake per proxy, never one object for two proxies: the signature numbers distinct
    proxies apart, so a template learned where two of them shared an example (two views of
    one functional value) would map an output returned as "that tensor" to either of them,
    and replay it for a call on two different tensors. Without `probe_syms`, symbolic
    proxies get their static twins (fakes at the hints) too."""
    fakes, used = [], set()
    for p in proxies:
        if p.meta.is_static or probe_syms is None:
            f = example_of(p.meta)
            if id(f) in used:
                f = make_fake(p.meta)
        else:
            f = probe_syms.fake(p.meta, syms.of)
        used.add(id(f))
        fakes.append(f)
    return fakes


def _returns_symbolic(value: Any) -> bool:
    if isinstance(value, (torch.SymInt, torch.SymFloat, torch.SymBool)):
        return not value.node.expr.is_number
    if isinstance(value, (list, tuple)):
        return any(_returns_symbolic(v) for v in value)
    return False


def _name(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
