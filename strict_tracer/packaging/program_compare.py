"""Whether a program computes, at given sizes, what a trace at those sizes computes.

`first_difference(general, small)` compares a program traced for sizes of 2 and up (an
ExportedProgram) with the functional program of a static trace at sizes where some of them are
0 or 1 (not packaged: its nodes still carry the trace's own metadata). The general program's
symbolic sizes are evaluated at the small program's input sizes (its size arithmetic folds into
constants), then the two are compared operation by operation: the same operators in the same
order, on the same operands, with equal arguments, and the same signature. Operations that only
lay values out anew in row-major order (a view where the other has a copy) fold into their
operands. Runtime asserts are not compared as nodes; the general program's must hold at those
sizes. Data-dependent sizes left after folding are named by order of appearance on each side.
"""
from __future__ import annotations

from typing import Any, Optional

import sympy
import torch
import torch.fx
from torch.export.graph_signature import ConstantArgument, InputKind

from ..proxy import TensorMeta
from ..symbolic import SymValue
from ..symbolic.solving import linear_form
from ..trace.results import FunctionalProgram
from .program import input_specs

_ASSERTS = (torch.ops.aten._assert_scalar.default, torch.ops.aten.sym_constrain_range.default,
            torch.ops.aten.sym_constrain_range_for_size.default)
_SYMBOLIC = (torch.SymInt, torch.SymFloat, torch.SymBool)


def first_difference(general: torch.export.ExportedProgram, small: FunctionalProgram,
                     deferred_asserts: bool = False) -> Optional[str]:
    """None if `small` is `general` at `small`'s (static) input sizes, else what differs first.

    `deferred_asserts` (export's prefer_deferred_runtime_asserts_over_guards): a runtime assert
    of `general` that fails there is the program refusing those inputs loudly, as it does at
    every size where a guard it was asked to defer fails; that is no difference."""
    sig = general.graph_signature
    small_specs = input_specs(small.trace)
    packaged, traced = _Packaged(general.graph_module), _Traced(small.trace.graph.submodules)
    at = _sizes_of(_input_shapes(general.graph.nodes, sig.input_specs, packaged),
                   _input_shapes(small.trace.graph.graph.nodes, small_specs, traced))
    if at is None:
        return "its input shapes do not correspond to the trace's"
    ops_general = _normalized(general.graph, packaged, _Fold(at))
    if isinstance(ops_general, str):
        return None if deferred_asserts else ops_general
    if ([(s.kind, s.target) for s in sig.input_specs] != [(s.kind, s.target) for s in small_specs]
            or [(s.kind, s.target) for s in sig.output_specs] != list(small.output_kinds)):
        return "its inputs or outputs differ (parameters, buffers or mutations)"
    ops_small = _normalized(small.trace.graph.graph, traced, _Fold({}))
    # Both lists end with their output, so a shorter one differs where the other goes on.
    for a, b in zip(ops_general, ops_small):
        if not _same(a, b):
            return f"it has {_describe(a)} where the trace has {_describe(b)}"
    return None


class _Packaged:
    """The values of a packaged program's nodes: `meta["val"]` (fake tensors, torch SymInts)."""

    def __init__(self, gm: torch.fx.GraphModule) -> None:
        self.gm = gm

    @staticmethod
    def shape(node: torch.fx.Node) -> Optional[tuple]:
        val = node.meta.get("val")
        return tuple(val.shape) if isinstance(val, torch.Tensor) else None

    @staticmethod
    def symbolic(node: torch.fx.Node) -> Any:
        val = node.meta.get("val")
        return val if isinstance(val, _SYMBOLIC) else None

    def subgraph(self, node: torch.fx.Node) -> Optional[tuple]:
        attr = getattr(self.gm, node.target, None)
        return (attr.graph, _Packaged(attr)) if isinstance(attr, torch.fx.GraphModule) else None


class _Traced:
    """The values of a traced graph's nodes: the trace's own `st_meta` (TensorMeta, SymValue)."""

    def __init__(self, submodules: dict) -> None:
        self.submodules = submodules

    @staticmethod
    def shape(node: torch.fx.Node) -> Optional[tuple]:
        meta = node.meta.get("st_meta")
        return meta.shape if isinstance(meta, TensorMeta) else None

    @staticmethod
    def symbolic(node: torch.fx.Node) -> Any:
        meta = node.meta.get("st_meta")
        return meta if isinstance(meta, SymValue) else None

    def subgraph(self, node: torch.fx.Node) -> Optional[tuple]:
        builder = self.submodules.get(node.target)
        return None if builder is None else (builder.graph, _Traced(builder.submodules))


def _input_shapes(nodes: Any, specs: list, reader: Any) -> list:
    """The shapes of the user inputs that are not constants, in order (None: not a tensor)."""
    placeholders = [node for node in nodes if node.op == "placeholder"]
    return [reader.shape(node) for node, spec in zip(placeholders, specs)
            if spec.kind == InputKind.USER_INPUT and not isinstance(spec.arg, ConstantArgument)]


def _expr(value: Any) -> sympy.Basic:
    if isinstance(value, _SYMBOLIC):
        return value.node.expr
    if isinstance(value, SymValue):
        return value.expr
    return sympy.sympify(value)


def _sizes_of(general: list, small: list) -> Optional[dict]:
    """Each size symbol of the general input shapes -> its value in the small ones (a derived
    `a*s + b` solved for s); None if the shapes do not correspond."""
    at: dict = {}
    pending = []
    for g_shape, s_shape in zip(general, small):
        if g_shape is None or s_shape is None:
            continue
        if len(g_shape) != len(s_shape):
            return None
        for g, s in zip(g_shape, s_shape):
            g_expr = _expr(g)
            if g_expr.is_Symbol:
                at[g_expr] = sympy.Integer(int(s))
            elif g_expr.free_symbols:
                pending.append((g_expr, int(s)))
    for expr, size in pending:
        expr = expr.xreplace(at)
        if not expr.free_symbols:
            continue
        linear = linear_form(sympy.expand(expr))
        if linear is None:
            return None
        s, a, b = linear
        at[s] = sympy.Rational(size - b, a)
    return at


def _normalized(graph: torch.fx.Graph, reader: Any, fold: "_Fold") -> Any:
    """The graph as a list of (operator, arguments) with sizes folded and the operations that
    only rearrange values in row-major order folded into their operands (see _reshape_of); a
    str if an assert fails at these sizes."""
    keys: dict = {}
    bases: dict = {}        # node -> (the node whose values it rearranges, its folded shape)
    shapes: dict = {}       # node -> its folded shape (None: not a tensor)
    ops: list = []
    inputs = 0
    for node in graph.nodes:
        op = node.op
        if op == "placeholder":
            keys[node] = ("input", inputs)
            inputs += 1
            shapes[node] = _folded(reader.shape(node), fold)
        elif op == "get_attr":
            sub = reader.subgraph(node)
            keys[node] = (("graph", _normalized(*sub, fold)) if sub is not None
                          else ("attr", node.target))
            shapes[node] = None
        elif op != "call_function":
            keys[node] = ("node", len(ops))
            ops.append((op, node.target, _args(node.args, keys, fold),
                        _args(node.kwargs, keys, fold)))
        elif node.target in _ASSERTS:
            failed = _failed_assert(node, keys)
            if failed:
                return failed
        elif (symbolic := reader.symbolic(node)) is not None:
            keys[node] = fold(symbolic)
        else:
            shape = shapes[node] = _folded(reader.shape(node), fold)
            source = _rearranged(node, shape, shapes)
            if source is not None:
                base, base_shape = bases.get(source, (source, shapes[source]))
                bases[node] = (base, base_shape)
                keys[node] = keys[base] if _same(shape, base_shape) else \
                    ("reshape", keys[base], shape)
            else:
                keys[node] = ("node", len(ops))
                ops.append((op, node.target, _args(node.args, keys, fold),
                            _args(node.kwargs, keys, fold)))
    return ops


def _folded(shape: Optional[tuple], fold: "_Fold") -> Optional[tuple]:
    return None if shape is None else tuple(fold(d) for d in shape)


_aten = torch.ops.aten
# Row-major rearrangements at any sizes: the result holds the operand's values in order.
_REARRANGING = {_aten.view.default, _aten.reshape.default, _aten._unsafe_view.default,
                _aten.clone.default, _aten.contiguous.default, _aten.alias.default,
                _aten.unsqueeze.default, _aten.squeeze.dim, _aten.squeeze.dims,
                _aten.squeeze.default, _aten.flatten.using_ints}
_PERMUTING = {_aten.permute.default, _aten.transpose.int, _aten.t.default}


def _rearranged(node: torch.fx.Node, shape: Optional[tuple], shapes: dict
                ) -> Optional[torch.fx.Node]:
    """The operand, when `node` only lays its operand's values out anew in row-major order at
    these sizes: a view, reshape, copy, (un)squeeze; an expand or a slice that keeps the shape;
    a permutation that keeps the order of the dims not of size 1."""
    args = node.args
    if shape is None or not args or not isinstance(args[0], torch.fx.Node):
        return None
    target, source = node.target, args[0]
    source_shape = shapes.get(source)
    if source_shape is None:
        return None
    if target in _REARRANGING:
        return source
    if target is _aten.expand.default or target is _aten.slice.Tensor:
        return source if _same(shape, source_shape) and (
            target is _aten.expand.default or _step_one(node)) else None
    if target in _PERMUTING:
        moved = [d for d in _permutation(node, len(source_shape)) if source_shape[d] != 1]
        return source if moved == sorted(moved) else None
    return None


def _step_one(node: torch.fx.Node) -> bool:
    args = list(node.args) + [None] * 5
    step = node.kwargs.get("step", args[4])
    return step in (None, 1)


def _permutation(node: torch.fx.Node, rank: int) -> list:
    if node.target is _aten.t.default:
        return list(range(rank))[::-1]
    if node.target is _aten.transpose.int:
        a, b = (d % rank for d in node.args[1:3])
        order = list(range(rank))
        order[a], order[b] = order[b], order[a]
        return order
    return [d % rank for d in node.args[1]]


def _failed_assert(node: torch.fx.Node, keys: dict) -> Optional[str]:
    condition = keys.get(node.args[0]) if node.args else None
    if condition is _FALSE:
        return f"its runtime assert fails there ({node.args[1] if len(node.args) > 1 else ''})"
    return None


class _Fold:
    """A size (int, torch symbolic value or ours) as a key: evaluated at the substitution, each
    distinct expression once (a layer's nodes share their shapes). Symbols left after the
    substitution (data-dependent sizes) are renamed in order of first appearance, so that two
    graphs that make them in the same order name them alike."""

    def __init__(self, substitution: dict) -> None:
        self.substitution = substitution
        self.memo: dict = {}
        self.names: dict = {}

    def __call__(self, value: Any) -> Any:
        if type(value) is int:
            return value
        expr = _expr(value)
        folded = self.memo.get(expr)
        if folded is None:
            folded = self.memo[expr] = self._value(expr.xreplace(self.substitution))
        return folded

    def _value(self, expr: sympy.Basic) -> Any:
        if expr is sympy.true or expr is sympy.false:
            return _TRUE if expr is sympy.true else _FALSE
        if expr.is_Integer:
            return int(expr)
        if expr.is_Float or expr.is_Rational:
            return float(expr)
        for symbol in sorted(expr.free_symbols - self.names.keys(), key=str):
            self.names[symbol] = sympy.Symbol(f"_data{len(self.names)}", integer=True)
        return ("sym", expr.xreplace(self.names))


class _Flag:
    """A bool as a key: equal only to itself (Python's True == 1 would equal an int)."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


_TRUE, _FALSE = _Flag(True), _Flag(False)
_PLAIN = (int, float, str, type(None), torch.dtype, torch.device, torch.layout,
          torch.memory_format)


def _args(value: Any, keys: dict, fold: "_Fold") -> Any:
    kind = type(value)
    if kind is torch.fx.Node:
        return keys[value]
    if kind is bool:
        return _TRUE if value else _FALSE
    if kind in _PLAIN:
        return value
    if isinstance(value, (list, tuple)):     # FX's immutable_list among them
        return tuple(_args(v, keys, fold) for v in value)
    if isinstance(value, dict):
        return tuple((k, _args(v, keys, fold)) for k, v in value.items())
    if isinstance(value, (*_SYMBOLIC, SymValue)):
        return fold(value)
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal keys. Keys are made so that Python's == is their equality (bools are _Flags,
    ints equal floats of the same value), except for sizes: expressions equal in value may
    differ in form, which only the slower comparison expands."""
    return a == b or _same_value(a, b)


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) == 2 == len(b) and a[0] == "sym" and b[0] == "sym":
            return sympy.expand(a[1] - b[1]) == 0
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return False


def _describe(op: tuple) -> str:
    kind, target, *_ = op
    if kind == "output":
        return "the output"
    return f"`{target if isinstance(target, str) else getattr(target, '__name__', target)}`"
