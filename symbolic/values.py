"""Symbolic scalars: SymInt, SymFloat, SymBool.

Each wraps a sympy expression and its hint (the value at the example inputs; None for
unbacked symbols). Arithmetic builds new expressions and folds to plain Python numbers when
the expression is a constant. Using a symbolic value as a Python bool/int (branching,
indexing, `int()`) asks the owning `ShapeEnv` to evaluate it, which records a guard.
"""
from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Any, Union

import sympy

if TYPE_CHECKING:
    from .shape_env import ShapeEnv

Number = Union[int, float, bool]


def _expr_of(value: Any) -> sympy.Expr:
    if isinstance(value, SymValue):
        return value.expr
    if isinstance(value, bool):
        return sympy.true if value else sympy.false
    if isinstance(value, int):
        return sympy.Integer(value)
    if isinstance(value, float):
        return sympy.Float(value)
    raise TypeError(f"not a symbolic operand: {type(value).__name__}")


def _hint_of(value: Any):
    return value.hint if isinstance(value, SymValue) else value


class SymValue:
    """Common base: an expression, its hint and the environment that owns its symbols."""

    __slots__ = ("expr", "hint", "env")

    def __init__(self, expr: sympy.Basic, hint, env: "ShapeEnv"):
        self.expr = expr
        self.hint = hint
        self.env = env

    def __repr__(self) -> str:
        # Formatting reaches here from user code through native code (str of a tuple of sizes,
        # %-formatting, join): the text must be the one eager prints, so it specializes the
        # value (a guard). Tracer-internal text uses describe() or the expression.
        return repr(self._concrete())

    def __str__(self) -> str:
        return str(self._concrete())

    def __format__(self, spec: str) -> str:
        return format(self._concrete(), spec)

    def _concrete(self):
        if isinstance(self, SymBool):
            return bool(self)
        return self.env.specialize(self)

    def describe(self) -> str:
        """Text for messages that must not add a guard."""
        return f"{type(self).__name__}({self.expr})"

    def __hash__(self) -> int:
        raise TypeError(f"unhashable type: '{type(self).__name__}' (symbolic value)")

    def has_hint(self) -> bool:
        return self.hint is not None

    @property
    def example(self):
        """The value the oracle runs at: the hint, or an example value for unbacked symbols."""
        return self.hint if self.hint is not None else self.env.example_value(self.expr)


def wrap(expr: sympy.Basic, hint, env: "ShapeEnv", kind: type) -> Any:
    """Build a symbolic value, folding constants back to Python numbers."""
    if expr.is_number or expr in (sympy.true, sympy.false):
        if kind is SymBool:
            return bool(expr)
        if kind is SymInt:
            return int(expr)
        return float(expr)
    return kind(expr, hint, env)


def _result_kind(a: Any, b: Any) -> type:
    """int (op) int stays integral; anything involving a float is a float."""
    if isinstance(a, (float, SymFloat)) or isinstance(b, (float, SymFloat)):
        return SymFloat
    return SymInt


def _binary(sym_op, hint_op):
    def method(self, other):
        if not isinstance(other, (int, float, SymValue)):
            return NotImplemented
        hint = None
        if self.hint is not None and _hint_of(other) is not None:
            hint = hint_op(self.hint, _hint_of(other))
        return wrap(sym_op(self.expr, _expr_of(other)), hint, self.env, _result_kind(self, other))

    def reflected(self, other):
        if not isinstance(other, (int, float, SymValue)):
            return NotImplemented
        hint = None if self.hint is None else hint_op(other, self.hint)
        return wrap(sym_op(_expr_of(other), self.expr), hint, self.env, _result_kind(self, other))

    return method, reflected


def _floordiv(a, b):
    return sympy.floor(a / b)


def _mod(a, b):
    return sympy.Mod(a, b)


def _truediv(a, b):
    return a / b


def _compare(sym_op, hint_op):
    def method(self, other):
        if not isinstance(other, (int, float, SymValue)):
            return NotImplemented
        hint = None
        if self.hint is not None and _hint_of(other) is not None:
            hint = hint_op(self.hint, _hint_of(other))
        return wrap(sym_op(self.expr, _expr_of(other)), hint, self.env, SymBool)
    return method


class _SymNumber(SymValue):
    """What SymInt and SymFloat share: + - * (int or float result by operand kinds),
    comparisons (SymBool results) and truth (`x != 0`, a guard)."""

    __slots__ = ()

    __add__, __radd__ = _binary(operator.add, operator.add)
    __sub__, __rsub__ = _binary(operator.sub, operator.sub)
    __mul__, __rmul__ = _binary(operator.mul, operator.mul)

    __eq__ = _compare(sympy.Eq, operator.eq)
    __ne__ = _compare(sympy.Ne, operator.ne)
    __lt__ = _compare(sympy.Lt, operator.lt)
    __le__ = _compare(sympy.Le, operator.le)
    __gt__ = _compare(sympy.Gt, operator.gt)
    __ge__ = _compare(sympy.Ge, operator.ge)

    def __bool__(self) -> bool:
        return bool(self.env.evaluate(sympy.Ne(self.expr, 0), self.hint != 0 if self.hint is not None else None))

    def __float__(self) -> float:
        return float(self.env.specialize(self))


class SymInt(_SymNumber):
    """A symbolic integer (a size, or an integer computed from sizes)."""

    __slots__ = ()

    __floordiv__, __rfloordiv__ = _binary(_floordiv, operator.floordiv)
    __mod__, __rmod__ = _binary(_mod, operator.mod)

    def __truediv__(self, other):
        if not isinstance(other, (int, float, SymValue)):
            return NotImplemented
        hint = None if self.hint is None or _hint_of(other) is None else self.hint / _hint_of(other)
        return wrap(self.expr / _expr_of(other), hint, self.env, SymFloat)

    def __rtruediv__(self, other):
        if not isinstance(other, (int, float)):
            return NotImplemented
        hint = None if self.hint is None else other / self.hint
        return wrap(_expr_of(other) / self.expr, hint, self.env, SymFloat)

    def __neg__(self):
        return wrap(-self.expr, None if self.hint is None else -self.hint, self.env, SymInt)

    def __pos__(self):
        return self

    def __abs__(self):
        return wrap(sympy.Abs(self.expr), None if self.hint is None else abs(self.hint), self.env, SymInt)

    def __pow__(self, other):
        if type(other) is not int or other < 0:
            return NotImplemented
        return wrap(self.expr ** other, None if self.hint is None else self.hint ** other, self.env, SymInt)

    def __floor__(self):
        return self

    def __ceil__(self):
        return self

    def __round__(self, ndigits=None):
        return self

    def __int__(self) -> int:
        return self.env.specialize(self)

    def __index__(self) -> int:
        return self.env.specialize(self)

    def __trunc__(self) -> int:
        return self.env.specialize(self)


class SymFloat(_SymNumber):
    """A symbolic float (e.g. a size divided by a number)."""

    __slots__ = ()

    __truediv__, __rtruediv__ = _binary(_truediv, operator.truediv)

    def __neg__(self):
        return wrap(-self.expr, None if self.hint is None else -self.hint, self.env, SymFloat)

    def __floor__(self):
        return wrap(sympy.floor(self.expr), None if self.hint is None else math.floor(self.hint), self.env, SymInt)

    def __ceil__(self):
        return wrap(sympy.ceiling(self.expr), None if self.hint is None else math.ceil(self.hint), self.env, SymInt)


class SymBool(SymValue):
    """A symbolic condition; `bool()` on it records a guard (or refuses if unbacked)."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return bool(self.env.evaluate(self.expr, self.hint))

    def __and__(self, other):
        if not isinstance(other, (bool, SymBool)):
            return NotImplemented
        hint = None if self.hint is None or _hint_of(other) is None else bool(self.hint and _hint_of(other))
        return wrap(sympy.And(self.expr, _expr_of(other)), hint, self.env, SymBool)

    __rand__ = __and__

    def __or__(self, other):
        if not isinstance(other, (bool, SymBool)):
            return NotImplemented
        hint = None if self.hint is None or _hint_of(other) is None else bool(self.hint or _hint_of(other))
        return wrap(sympy.Or(self.expr, _expr_of(other)), hint, self.env, SymBool)

    __ror__ = __or__

    def __invert__(self):
        return wrap(sympy.Not(self.expr), None if self.hint is None else not self.hint, self.env, SymBool)


def sym_max(a: Any, b: Any) -> Any:
    """max() of possibly symbolic numbers without branching on them."""
    return _sym_minmax(a, b, sympy.Max, max)


def sym_min(a: Any, b: Any) -> Any:
    return _sym_minmax(a, b, sympy.Min, min)


def _sym_minmax(a, b, sym_op, py_op):
    sym = a if isinstance(a, SymValue) else b
    if not isinstance(sym, SymValue):
        return py_op(a, b)
    ha, hb = _hint_of(a), _hint_of(b)
    hint = None if ha is None or hb is None else py_op(ha, hb)
    return wrap(sym_op(_expr_of(a), _expr_of(b)), hint, sym.env, _result_kind(a, b))


def is_symbolic(value: Any) -> bool:
    return isinstance(value, SymValue)


def hint_of(value: Any):
    """The example value of a possibly symbolic scalar."""
    return value.hint if isinstance(value, SymValue) else value
