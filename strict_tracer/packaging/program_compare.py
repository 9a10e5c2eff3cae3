"""Whether two exported programs compute the same thing at given sizes.

`first_difference(general, small)` compares a program traced for sizes of 2 and up with one
traced statically at sizes where some of them are 0 or 1. The general program's symbolic sizes
are evaluated at the small program's input sizes (its size arithmetic folds into constants),
then the two are compared operation by operation: the same operators in the same order, on the
same operands, with equal arguments, and the same signature. Operations that only lay values
out anew in row-major order (a view where the other has a copy) fold into their operands.
Runtime asserts are not compared as nodes; the general program's must hold at those sizes.
"""
from __future__ import annotations

from typing import Any, Optional

import sympy
import torch
import torch.fx

from ..symbolic.solving import linear_form

_ASSERTS = (torch.ops.aten._assert_scalar.default, torch.ops.aten.sym_constrain_range.default,
            torch.ops.aten.sym_constrain_range_for_size.default)
_SYMBOLIC = (torch.SymInt, torch.SymFloat, torch.SymBool)


def first_difference(general: torch.export.ExportedProgram,
                     small: torch.export.ExportedProgram) -> Optional[str]:
    """None if `small` is `general` at `small`'s (static) input sizes, else what differs first."""
    if _signature(general) != _signature(small):
        return "its inputs or outputs differ (parameters, buffers or mutations)"
    at = _sizes_of(general, small)
    if at is None:
        return "its input shapes do not correspond to the trace's"
    ops_general = _normalized(general.graph_module, _Fold(at))
    if isinstance(ops_general, str):
        return ops_general
    ops_small = _normalized(small.graph_module, _Fold({}))
    for a, b in zip(ops_general, ops_small):
        if not _same(a, b):
            return f"it has {_describe(a)} where the trace has {_describe(b)}"
    if len(ops_general) != len(ops_small):
        return f"it has {len(ops_general)} operations where the trace has {len(ops_small)}"
    return None


def _signature(program: torch.export.ExportedProgram) -> tuple:
    sig = program.graph_signature
    return (tuple((s.kind, s.target) for s in sig.input_specs),
            tuple((s.kind, s.target) for s in sig.output_specs))


def _user_input_shapes(program: torch.export.ExportedProgram) -> list:
    names = set(program.graph_signature.user_inputs)
    shapes = []
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in names:
            val = node.meta.get("val")
            shapes.append(tuple(val.shape) if isinstance(val, torch.Tensor) else None)
    return shapes


def _expr(value: Any) -> sympy.Basic:
    if isinstance(value, _SYMBOLIC):
        return value.node.expr
    return sympy.sympify(value)


def _sizes_of(general, small) -> Optional[dict]:
    """Each size symbol of `general` -> its value in `small`'s input shapes (a derived
    `a*s + b` solved for s); None if the shapes do not correspond."""
    at: dict = {}
    pending = []
    for g_shape, s_shape in zip(_user_input_shapes(general), _user_input_shapes(small)):
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


def _normalized(gm: torch.fx.GraphModule, fold: "_Fold") -> Any:
    """The graph as a list of (operator, arguments) with sizes folded and the operations that
    only rearrange values in row-major order folded into their operands (see _reshape_of); a
    str if an assert fails at these sizes."""
    keys: dict = {}
    bases: dict = {}        # node -> (the node whose values it rearranges, its folded shape)
    ops: list = []
    inputs = 0
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            keys[node] = ("input", inputs)
            inputs += 1
        elif node.op == "get_attr":
            attr = getattr(gm, node.target, None)
            keys[node] = (("graph", _normalized(attr, fold))
                          if isinstance(attr, torch.fx.GraphModule) else ("attr", node.target))
        elif node.op == "call_function" and node.target in _ASSERTS:
            failed = _failed_assert(node, keys)
            if failed:
                return failed
        elif node.op == "call_function" and isinstance(node.meta.get("val"), _SYMBOLIC):
            keys[node] = fold(node.meta["val"])
        elif (reshaped := _reshape_of(node, fold)) is not None:
            source, shape = reshaped
            base, base_shape = bases.get(source, (source, _shape(source, fold)))
            bases[node] = (base, base_shape)
            keys[node] = keys[base] if _same(shape, base_shape) else \
                ("reshape", keys[base], shape)
        else:
            keys[node] = ("node", len(ops))
            ops.append((node.op, _target(node.target), _args(node.args, keys, fold),
                        _args(node.kwargs, keys, fold)))
    return ops


_aten = torch.ops.aten
# Row-major rearrangements at any sizes: the result holds the operand's values in order.
_REARRANGING = {_aten.view.default, _aten.reshape.default, _aten._unsafe_view.default,
                _aten.clone.default, _aten.contiguous.default, _aten.alias.default,
                _aten.unsqueeze.default, _aten.squeeze.dim, _aten.squeeze.dims,
                _aten.squeeze.default, _aten.flatten.using_ints}
_PERMUTING = {_aten.permute.default, _aten.transpose.int, _aten.t.default}


def _reshape_of(node: torch.fx.Node, fold: "_Fold") -> Optional[tuple]:
    """(operand, folded result shape) when `node` only lays its operand's values out anew in
    row-major order at these sizes: a view, reshape, copy, (un)squeeze; an expand or a slice
    that keeps the shape; a permutation that keeps the order of the dims not of size 1."""
    if node.op != "call_function" or not node.args or \
            not isinstance(node.args[0], torch.fx.Node):
        return None
    target, source = node.target, node.args[0]
    if not isinstance(node.meta.get("val"), torch.Tensor) or \
            not isinstance(source.meta.get("val"), torch.Tensor):
        return None
    shape = _shape(node, fold)
    if target in _REARRANGING:
        return source, shape
    same_shape = _same(shape, _shape(source, fold))
    if target is _aten.expand.default and same_shape:
        return source, shape
    if target is _aten.slice.Tensor and same_shape and _step_one(node):
        return source, shape
    if target in _PERMUTING:
        order = _permutation(node)
        source_shape = _shape(source, fold)
        moved = [d for d in order if source_shape[d] != 1]
        if moved == sorted(moved):
            return source, shape
    return None


def _shape(node: torch.fx.Node, fold: "_Fold") -> tuple:
    return tuple(fold(d) for d in node.meta["val"].shape)


def _step_one(node: torch.fx.Node) -> bool:
    args = list(node.args) + [None] * 5
    step = node.kwargs.get("step", args[4])
    return step in (None, 1)


def _permutation(node: torch.fx.Node) -> list:
    rank = node.args[0].meta["val"].dim()
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
    if condition is False:
        return f"its runtime assert fails there ({node.args[1] if len(node.args) > 1 else ''})"
    return None


class _Fold:
    """A size (int or torch symbolic value) as a key: evaluated at the substitution, each
    distinct expression once (a layer's nodes share their shapes)."""

    def __init__(self, substitution: dict) -> None:
        self.substitution = substitution
        self.memo: dict = {}

    def __call__(self, value: Any) -> Any:
        if type(value) is int:
            return value
        expr = _expr(value)
        if expr not in self.memo:
            self.memo[expr] = _value(expr.xreplace(self.substitution))
        return self.memo[expr]


def _value(expr: sympy.Basic) -> Any:
    if expr is sympy.true or expr is sympy.false:
        return bool(expr)
    if expr.is_Integer:
        return int(expr)
    if expr.is_Float or expr.is_Rational:
        return float(expr)
    return ("sym", expr)


def _target(target: Any) -> str:
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _args(value: Any, keys: dict, fold: "_Fold") -> Any:
    if isinstance(value, torch.fx.Node):
        return keys[value]
    if isinstance(value, (list, tuple)):
        return tuple(_args(v, keys, fold) for v in value)
    if isinstance(value, dict):
        return tuple((k, _args(v, keys, fold)) for k, v in value.items())
    if isinstance(value, _SYMBOLIC):
        return fold(value)
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal keys: sizes as expressions, numbers by value, bools only with bools."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) == 2 == len(b) and a[0] == "sym" and b[0] == "sym":
            return a[1] == b[1] or sympy.expand(a[1] - b[1]) == 0
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _describe(op: tuple) -> str:
    kind, target, *_ = op
    return "the output" if kind == "output" else f"`{target}`"
