"""Runtime asserts: facts about unbacked symbols, and tensor metadata before `aten.to`.

Guards on input sizes are checked by `ep.module()` before the graph runs; facts about values
that only exist at run time (`torch._check(a >= 10)` after `a = x.item()`, the range of a
data-dependent size) become `aten._assert_scalar` nodes right after the node that produces
the value, as torch.export emits them.
"""
from __future__ import annotations

import sys

import sympy
import torch

from .symbolic import facts as F
from .symbolic.ranges import INF

_ASSERT = torch.ops.aten._assert_scalar.default


def insert_runtime_asserts(state) -> None:
    _insert_input_asserts(state)
    env, sym_nodes, graph = state.shape_env, state.sym_nodes, state.graph
    bound = {s: b for s, b in sym_nodes.bindings.items() if env.symbols[s].unbacked}
    if not bound:
        return
    order = {node: i for i, node in enumerate(graph.graph.nodes)}
    backed_only = {k: v for k, v in env.replacements.items() if not env.symbols[k].unbacked}
    pending: dict = {}                      # anchor node -> expressions to assert after it
    for s, binding in bound.items():
        info = env.symbols[s]
        value = env.replacements.get(s)
        if value is not None and value.is_Integer:
            # Found equal to a number (view(u0, 4) of 24 elements): torch narrows the range to
            # it and asserts the range first (u0 >= 6, u0 <= 6), then the equality.
            pending.setdefault(binding.node, []).extend([sympy.Ge(s, int(value)),
                                                         sympy.Le(s, int(value))])
            continue
        if value is not None or (info.lower, info.upper) == (0, 1):
            continue
        if info.lower != -INF:
            pending.setdefault(binding.node, []).append(sympy.Ge(s, int(info.lower)))
        if info.upper != INF and not _largest_size(info):
            pending.setdefault(binding.node, []).append(sympy.Le(s, int(info.upper)))
    for guard in env.runtime_asserts:
        expr = guard.expr.xreplace(backed_only) if backed_only else guard.expr
        if expr in (sympy.true, sympy.false) or _is_range(expr, bound):
            continue
        unbacked = [s for s in expr.free_symbols if s in bound]
        if not unbacked:
            continue
        anchor = max((bound[s].node for s in unbacked), key=order.__getitem__)
        pending.setdefault(anchor, [])
        if expr not in pending[anchor]:
            pending[anchor].append(expr)
    for anchor, exprs in pending.items():
        cursor, cache = anchor, {}
        for expr in exprs:
            cursor = _emit_assert(sym_nodes, graph, cursor, expr, cache)


def _insert_input_asserts(state) -> None:
    """Runtime asserts on input sizes alone (prefer_deferred_runtime_asserts_over_guards):
    right after the placeholders, as torch.export places them, each value computed once."""
    env = state.shape_env
    # Guards found from here on (functionalization's ops) have no assert to become: they are
    # input guards, which ep.module() checks.
    env.defer_guards = False
    exprs: list = []
    for guard in env.runtime_asserts:
        if any(env.symbols[s].unbacked for s in guard.expr.free_symbols if s in env.symbols):
            continue
        expr = env.resolve(guard.expr)
        if expr is not sympy.true and expr not in exprs:
            exprs.append(expr)
    placeholders = [n for n in state.graph.graph.nodes if n.op == "placeholder"]
    if not exprs or not placeholders:
        return
    cursor, cache = placeholders[-1], {}
    for expr in exprs:
        cursor = _emit_assert(state.sym_nodes, state.graph, cursor, expr, cache)


def _largest_size(info) -> bool:
    """A size's upper bound of sys.maxsize - 1 (a data-dependent size as torch's kernels
    bound it): no tensor reaches it, so asserting it checks nothing; torch.export treats it
    as unbounded and emits no assert either."""
    return info.upper == sys.maxsize - 1 and info.lower >= 0


def _is_range(expr: sympy.Basic, bound: dict) -> bool:
    """A bound on one unbacked symbol: its range assert already checks it."""
    c = F.canonical(expr)
    if c is None or c[0] not in (F.GE, F.GT):
        return False
    free = c[1].free_symbols
    return len(free) == 1 and next(iter(free)) in bound and c[1].diff(next(iter(free))).is_Integer


def _emit_assert(sym_nodes, graph, cursor: torch.fx.Node, expr: sympy.Basic,
                 cache: dict) -> torch.fx.Node:
    """Insert `_assert_scalar(expr)` after `cursor`; return the last node inserted."""
    with graph.graph.inserting_before(cursor.next):
        cond = sym_nodes.expr_node(expr, cache=cache, resolve=False, in_order=False)
        name = cond.name if isinstance(cond, torch.fx.Node) else str(cond)
        return graph.call(_ASSERT, (cond, f"Runtime assertion failed for expression {expr} on "
                                          f"node '{name}'"), {}, None)


_VALUE_KEYS = frozenset({"st_meta", "val", "tensor_meta"})
_TO_OVERLOADS = (torch.ops.aten.to.device, torch.ops.aten.to.dtype, torch.ops.aten.to.dtype_layout)


def insert_to_metadata_asserts(graph: torch.fx.Graph) -> None:
    """`aten._assert_tensor_metadata` before every `aten.to` node, as torch.export emits
    them: the program checks at run time that the converted tensor has the dtype, device and
    layout it had while tracing (a `.to()` that was a no-op then may not be one later)."""
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in _TO_OVERLOADS:
            continue
        source = node.args[0]
        meta = source.meta.get("st_meta") if isinstance(source, torch.fx.Node) else None
        if meta is None:
            continue
        with graph.inserting_before(node):
            check = graph.call_function(
                torch.ops.aten._assert_tensor_metadata.default, (source,),
                {"dtype": meta.dtype, "device": meta.device, "layout": meta.layout})
        # Same location and regions (grad mode, autocast) as the conversion it checks.
        check.meta.update({k: v for k, v in node.meta.items() if k not in _VALUE_KEYS})
