"""Graph nodes that compute symbolic values: `aten.sym_size.int` of inputs, data reads
(`aten.item`), and `operator` arithmetic on them.

A symbolic value passed to a torch op (`x.view(n, -1)`, `torch.zeros(2 * n)`) must be computed
inside the graph. Each symbol is bound to where its value lives at run time (a dimension of a
placeholder, an `item` node, a dimension of a data-dependent op's output); an expression
becomes nodes built from those, cached per expression.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, Optional

import sympy
import torch

from .graph import GraphBuilder
from ..symbolic import SymBool, SymFloat, SymInt, SymValue
from ..symbolic.functions import RoundToInt, ToFloat, TruncToInt, strip_float
from ..symbolic.values import wrap


@dataclass(frozen=True)
class Binding:
    """Where a symbol's value comes from: `(node.size(dim) - offset) // scale`, or the node."""

    node: torch.fx.Node
    dim: Optional[int] = None       # None: the node's own value (item)
    scale: int = 1
    offset: int = 0


_PURE_ARITHMETIC = frozenset({operator.add, operator.sub, operator.mul, operator.floordiv,
                              operator.truediv, operator.mod, operator.neg, operator.pow})
_UNARY = {ToFloat: torch.sym_float, TruncToInt: math.trunc, RoundToInt: round,
          sympy.Not: torch.sym_not, sympy.Abs: operator.abs}
_CHAINED = {sympy.Max: torch.sym_max, sympy.Min: torch.sym_min, sympy.And: operator.and_,
            sympy.Or: operator.or_}
_REL = {sympy.Eq: operator.eq, sympy.Ne: operator.ne, sympy.Lt: operator.lt,
        sympy.Le: operator.le, sympy.Gt: operator.gt, sympy.Ge: operator.ge}


class SymNodes:
    """Bindings of symbols and the nodes computing expressions of them."""

    def __init__(self, graph: GraphBuilder, env) -> None:
        self.graph = graph
        self.env = env
        self.bindings: dict[sympy.Symbol, Binding] = {}
        self._cache: dict[sympy.Basic, Any] = {}
        self._in_order = True       # follow env.written_order (False: runtime asserts)

    # ------------------------------------------------------------------ bindings
    def bind_input(self, node: torch.fx.Node, shape: tuple) -> None:
        for dim, size in enumerate(shape):
            if isinstance(size, SymValue):
                self.bind_size(size.expr, node, dim)

    def bind_unbacked_sizes(self, node: torch.fx.Node, shape: tuple) -> None:
        """A data-dependent op's output: its sizes define their unbacked symbols."""
        for dim, size in enumerate(shape):
            if isinstance(size, SymValue) and size.expr.is_Symbol and size.expr not in self.bindings:
                if self.env.symbols[size.expr].unbacked:
                    self.bindings[size.expr] = Binding(node, dim)

    def bind_size(self, expr: sympy.Expr, node: torch.fx.Node, dim: int) -> None:
        """`node.size(dim)` equals `expr`: bind the symbol of `expr` if this defines it."""
        if expr.is_Symbol:
            self.bindings.setdefault(expr, Binding(node, dim))
            return
        free = expr.free_symbols
        if len(free) != 1:
            return
        (s,) = free
        a = expr.diff(s)
        b = sympy.expand(expr - a * s)
        if a.is_Integer and a > 0 and b.is_Integer and s not in self.bindings:
            self.bindings[s] = Binding(node, dim, int(a), int(b))

    def bind_value(self, symbol: sympy.Symbol, node: torch.fx.Node, expr: sympy.Basic = None) -> None:
        """`node` computes `expr` (default: the symbol itself), e.g. an `item` node."""
        self.bindings.setdefault(symbol, Binding(node))
        if expr is not None:
            self._cache[expr] = node

    # ------------------------------------------------------------------ materialisation
    def node_for(self, value: Any, cache: Optional[dict] = None) -> Any:
        """A node (or a Python number) computing `value` in the graph, for an op argument."""
        if not isinstance(value, SymValue):
            return value
        expr = self.env.resolve(value.expr)
        return self.expr_node(expr, cache)

    def expr_node(self, expr: sympy.Basic, cache: Optional[dict] = None,
                  resolve: bool = True, in_order: bool = True) -> Any:
        """Nodes computing `expr`; `in_order`: sums and products the program wrote are
        computed in its order (torch.export builds its runtime asserts from the canonical
        expression instead)."""
        if resolve:
            expr = self.env.resolve(expr)
        if cache is None:
            cache = self._cache
        previous, self._in_order = self._in_order, in_order
        try:
            return self._emit(expr, cache)
        finally:
            self._in_order = previous

    def _emit(self, e: sympy.Basic, cache: dict) -> Any:
        if e is sympy.true or e is sympy.false:
            return bool(e)
        if e.is_Integer:
            return int(e)
        if e.is_Number:
            return float(e)
        hit = cache.get(e)
        if hit is not None:
            return hit
        node = self._build(e, cache)
        cache[e] = node
        return node

    def merge_equal_values(self) -> None:
        """Nodes computing sizes that guards learned later proved equal (input_ids.size(1)
        and mask.size(1) once `seq_ids == seq_mask` is known) become one node, the first:
        torch.export, tracing with the final replacements, computes each value once."""
        first: dict[sympy.Basic, torch.fx.Node] = {}
        for node in list(self.graph.graph.nodes):
            if node.op != "call_function" or not (node.target is torch.ops.aten.sym_size.int
                                                  or node.target in _PURE_ARITHMETIC):
                continue
            value = node.meta.get("st_meta")
            if not isinstance(value, SymValue):
                continue
            # A value equal to others only by a runtime assert merges with its own kind only.
            key = value.expr if self._asserted_equal(value.expr) else self.env.resolve(value.expr)
            kept = first.setdefault(key, node)
            if kept is not node:
                node.replace_all_uses_with(kept)
                self.graph.graph.erase_node(node)

    def _asserted_equal(self, expr: sympy.Basic) -> bool:
        """Does `expr` equal others only by a runtime assert (a data-dependent size replaced
        by an input's: `nonzero(a).size(0) == c.size(0)`)? Merging its node with theirs would
        make that assert compare a value with itself."""
        symbols = self.env.symbols
        return any(s in self.env.replacements and symbols[s].unbacked
                   for s in expr.free_symbols if s in symbols)

    def _call(self, target: Any, args: tuple, e: sympy.Basic) -> torch.fx.Node:
        return self.graph.call(target, args, {}, self._value(e))

    def _value(self, e: sympy.Basic) -> SymValue:
        # (sympy relations are booleans without setting is_Boolean)
        kind = SymBool if e.is_Boolean or e.is_Relational else (SymInt if e.is_integer else SymFloat)
        hint = self.env.hint_value(e)
        value = wrap(e, hint, self.env, kind)
        return value if isinstance(value, SymValue) else kind(e, hint, self.env)

    def _build(self, e: sympy.Basic, cache: dict) -> torch.fx.Node:
        if e.is_Symbol:
            return self._symbol(e, cache)
        written = self._written(e)
        if written is not None:
            op, operands = written
            return self._call(op, tuple(self._emit(o, cache) if isinstance(o, sympy.Basic) else o
                                        for o in operands), e)
        if e.is_Add:
            terms = sorted(e.args, key=lambda t: (t.is_Number, t.could_extract_minus_sign()))
            acc, partial = self._emit(terms[0], cache), terms[0]
            for t in terms[1:]:
                partial = partial + t
                if t.could_extract_minus_sign():
                    acc = self._call(operator.sub, (acc, self._emit(-t, cache)), partial)
                else:
                    acc = self._call(operator.add, (acc, self._emit(t, cache)), partial)
            return acc
        if e.is_Mul or (e.is_Pow and e.exp.is_negative):
            num, den = sympy.fraction(e)
            if den != 1:
                # `/` computes a float from ints too: the operands need no sym_float.
                return self._call(operator.truediv, (self._emit(strip_float(num), cache),
                                                     self._emit(strip_float(den), cache)), e)
            coeff, rest = e.as_coeff_Mul()
            if coeff == -1:
                return self._call(operator.neg, (self._emit(rest, cache),), e)
            ordered = [f for f in e.args if not f.is_Number] + [f for f in e.args if f.is_Number]
            acc, partial = self._emit(ordered[0], cache), ordered[0]
            for f in ordered[1:]:
                partial = partial * f
                acc = self._call(operator.mul, (acc, self._emit(f, cache)), partial)
            return acc
        if e.is_Pow:
            return self._power(e, cache)
        return self._function(e, cache)

    def _written(self, e: sympy.Basic) -> Optional[tuple]:
        """How the program wrote `e` (env.written_as), with its operands resolved; None when
        it did not, or when an operand resolves to `e` itself (nothing to compute)."""
        written = self.env.written_as.get(e)
        if written is None and self._in_order:
            written = self.env.written_order.get(e)
        if written is None:
            return None
        op, (operand, other) = written
        operands = (self.env.resolve(operand),
                    self.env.resolve(other) if isinstance(other, sympy.Basic) else other)
        if any(o == e for o in operands):
            return None
        return op, operands

    def _power(self, e: sympy.Pow, cache: dict) -> torch.fx.Node:
        base, exp = e.args
        if exp.is_Integer:
            return self._call(operator.pow, (self._emit(base, cache), int(exp)), e)
        if exp == sympy.Rational(1, 2):
            return self._call(torch.sym_sqrt, (self._emit(base, cache),), e)
        return self._call(operator.pow, (self._emit(base, cache), self._emit(exp, cache)), e)

    def _function(self, e: sympy.Basic, cache: dict) -> torch.fx.Node:
        """Graph forms of floor/ceil/trunc/round, casts, Mod, Min/Max, sym_ite, relations."""
        func = e.func
        if func in (sympy.floor, sympy.ceiling):
            return self._rounding(e, cache)
        unary = _UNARY.get(func)
        if unary is not None:
            return self._call(unary, (self._emit(e.args[0], cache),), e)
        if func is sympy.Mod:
            return self._call(operator.mod, tuple(self._emit(a, cache) for a in e.args), e)
        chained = _CHAINED.get(func)
        if chained is not None:
            args = [self._emit(a, cache) for a in e.args]
            acc = args[0]
            for a in args[1:]:
                acc = self._call(chained, (acc, a), e)
            return acc
        if func in _REL:
            return self._call(_REL[func], (self._emit(e.lhs, cache), self._emit(e.rhs, cache)), e)
        if func is sympy.Piecewise:
            # torch.sym_ite wants both branches of one type: float constants of a float ite.
            branch = (lambda v: float(v) if isinstance(v, int) else v) if not e.is_integer \
                else (lambda v: v)
            *pieces, (last, _) = [pair.args for pair in e.args]
            acc = branch(self._emit(last, cache))
            for value, cond in reversed(pieces):
                acc = self._call(torch.sym_ite, (self._emit(cond, cache),
                                                 branch(self._emit(value, cache)), acc), e)
            return acc
        raise NotImplementedError(f"cannot compute {e} in the graph")

    def _rounding(self, e: sympy.Basic, cache: dict) -> torch.fx.Node:
        """floor/ceil: exact integer division for a ratio of integers (`p // q`,
        `-((-p) // q)`, as torch's serializer accepts), math.floor/ceil of a float otherwise."""
        arg = e.args[0]
        num, den = sympy.fraction(sympy.together(arg))
        if den == 1 or not (num.is_integer and den.is_integer):
            target = math.floor if e.func is sympy.floor else math.ceil
            return self._call(target, (self._emit(arg, cache),), e)
        if e.func is sympy.floor:
            return self._call(operator.floordiv, (self._emit(num, cache), self._emit(den, cache)), e)
        negated = self._emit(-num, cache)
        floored = self._call(operator.floordiv, (negated, self._emit(den, cache)), -e)
        return self._call(operator.neg, (floored,), e)

    def _symbol(self, s: sympy.Symbol, cache: dict) -> torch.fx.Node:
        binding = self.bindings.get(s)
        if binding is None:
            raise NotImplementedError(f"symbol {s} has no value in the graph")
        if binding.dim is None:
            return binding.node
        size = self.graph.call(torch.ops.aten.sym_size.int, (binding.node, binding.dim), {},
                               self._value(s if binding.scale == 1 and binding.offset == 0
                                           else binding.scale * s + binding.offset))
        if binding.scale == 1 and binding.offset == 0:
            return size
        shifted = size
        if binding.offset:
            shifted = self._call(operator.sub, (size, binding.offset), binding.scale * s)
        if binding.scale != 1:
            shifted = self._call(operator.floordiv, (shifted, binding.scale), s)
        return shifted
