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

from .functions import RoundToInt, ToFloat, TruncToInt, float_constant, strip_float

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
        return float_constant(value)
    raise TypeError(f"not a symbolic operand: {type(value).__name__}")


def _float_expr(value: Any) -> sympy.Expr:
    """The expression of an operand of float arithmetic: integers become ToFloat, so the
    result stays a float in the graph (`n * 2.0 / 2` is a float, not `n`)."""
    if isinstance(value, SymInt):
        return ToFloat(value.expr)
    return _expr_of(value)


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


def _operands(a: Any, b: Any, kind: type) -> tuple:
    if kind is SymFloat:
        return _float_expr(a), _float_expr(b)
    return _expr_of(a), _expr_of(b)


def _binary(sym_op, hint_op, float_op=None, kind_of=None):
    """`self (op) other` and its reflection; `float_op` builds the expression when the result
    is a float and differs from `sym_op` (floor division and modulo of floats); `kind_of`
    overrides the result kind (true division is always a float)."""
    kind_of = kind_of or _result_kind
    def build(a, b, kind):
        op = float_op if kind is SymFloat and float_op is not None else sym_op
        return op(*_operands(a, b, kind))

    def method(self, other):
        if not isinstance(other, (int, float, SymValue)) or isinstance(other, SymBool):
            return NotImplemented
        hint = None
        if self.hint is not None and _hint_of(other) is not None:
            hint = hint_op(self.hint, _hint_of(other))
        kind = kind_of(self, other)
        return wrap(build(self, other, kind), hint, self.env, kind)

    def reflected(self, other):
        if not isinstance(other, (int, float)):
            return NotImplemented
        hint = None if self.hint is None else hint_op(other, self.hint)
        kind = kind_of(self, other)
        return wrap(build(other, self, kind), hint, self.env, kind)

    return method, reflected


def _floordiv(a, b):
    return sympy.floor(strip_float(a) / strip_float(b))


def _float_floordiv(a, b):
    """float // float: the floor, as a float."""
    return ToFloat(sympy.floor(strip_float(a) / strip_float(b)))


def _mod(a, b):
    return sympy.Mod(a, b)


def _float_mod(a, b):
    """float % float: a - b*floor(a/b) (the sign of b, as Python)."""
    return a - b * sympy.floor(strip_float(a) / strip_float(b))


def _truediv(a, b):
    return a / b


def _float_hint(op):
    def hint(a, b):
        return float(op(a, b))
    return hint


def _compare(sym_op, hint_op):
    # A comparison's truth does not depend on int/float types: compare the values.
    def method(self, other):
        if not isinstance(other, (int, float, SymValue)) or isinstance(other, SymBool):
            return NotImplemented
        hint = None
        if self.hint is not None and _hint_of(other) is not None:
            hint = hint_op(self.hint, _hint_of(other))
        return wrap(sym_op(strip_float(self.expr), strip_float(_expr_of(other))), hint,
                    self.env, SymBool)
    return method


class _SymNumber(SymValue):
    """What SymInt and SymFloat share: + - * (int or float result by operand kinds),
    comparisons (SymBool results) and truth (`x != 0`, a guard)."""

    __slots__ = ()

    __add__, __radd__ = _binary(operator.add, operator.add)
    __sub__, __rsub__ = _binary(operator.sub, operator.sub)
    __mul__, __rmul__ = _binary(operator.mul, operator.mul)
    __truediv__, __rtruediv__ = _binary(_truediv, _float_hint(operator.truediv),
                                        kind_of=lambda a, b: SymFloat)
    __floordiv__, __rfloordiv__ = _binary(_floordiv, operator.floordiv, _float_floordiv)
    __mod__, __rmod__ = _binary(_mod, operator.mod, _float_mod)

    __eq__ = _compare(sympy.Eq, operator.eq)
    __ne__ = _compare(sympy.Ne, operator.ne)
    __lt__ = _compare(sympy.Lt, operator.lt)
    __le__ = _compare(sympy.Le, operator.le)
    __gt__ = _compare(sympy.Gt, operator.gt)
    __ge__ = _compare(sympy.Ge, operator.ge)

    def __bool__(self) -> bool:
        return bool(self.env.evaluate(sympy.Ne(strip_float(self.expr), 0),
                                      self.hint != 0 if self.hint is not None else None))

    def __float__(self) -> float:
        # Python requires a float: the value is specialized (a guard), as torch does.
        return float(self.env.specialize(self))

    def __pos__(self):
        return self

    def __neg__(self):
        return wrap(-self.expr, None if self.hint is None else -self.hint, self.env, type(self))

    def __abs__(self):
        return wrap(sympy.Abs(self.expr), None if self.hint is None else abs(self.hint), self.env,
                    type(self))

    def __pow__(self, other, modulo=None):
        if modulo is not None:       # pow(n, e, m): an integer identity; computed at the value
            return pow(self._python(), _python_of(other), _python_of(modulo))
        return _power(self, other)

    def __divmod__(self, other):
        if not isinstance(other, (int, float, SymValue)) or isinstance(other, SymBool):
            return NotImplemented
        return self // other, self % other

    def __rdivmod__(self, other):
        if not isinstance(other, (int, float)):
            return NotImplemented
        return other // self, other % self

    def __getattr__(self, name: str):
        # The number's own methods (n.bit_length(), x.is_integer()) are answered at the value:
        # a guard (or a constraint violation for a declared-dynamic size), never an
        # AttributeError the program could catch and take another path on.
        if name in _VALUE_METHODS:
            return getattr(self._python(), name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _python(self):
        return int(self) if isinstance(self, SymInt) else float(self)

    def __rpow__(self, other):
        if not isinstance(other, (int, float)):
            return NotImplemented
        return _power(other, self)

    def _unary(self, func, hint_op, kind: type):
        hint = None if self.hint is None else hint_op(self.hint)
        return wrap(func(strip_float(self.expr)), hint, self.env, kind)


def _power(base: Any, exp: Any):
    """`base ** exp`: an integer for integer operands with a non-negative integer exponent,
    a float otherwise (as Python computes it)."""
    if not isinstance(exp, (int, float, SymValue)) or isinstance(exp, SymBool):
        return NotImplemented
    sym = base if isinstance(base, SymValue) else exp
    hb, he = _hint_of(base), _hint_of(exp)
    hint = None if hb is None or he is None else hb ** he
    integral = isinstance(base, (int, SymInt)) and isinstance(exp, (int, SymInt))
    if integral and not (isinstance(exp, int) and exp >= 0):
        lo = sym.env.bound(_expr_of(exp))[0] if isinstance(exp, SymInt) else exp
        integral = lo >= 0
    if integral:
        return wrap(_expr_of(base) ** _expr_of(exp), hint, sym.env, SymInt)
    if isinstance(hint, complex):
        raise ValueError("a negative size raised to a fractional power is complex")
    return wrap(_float_expr(base) ** _float_expr(exp), None if hint is None else float(hint),
                sym.env, SymFloat)


_VALUE_METHODS = frozenset({"bit_length", "bit_count", "to_bytes", "as_integer_ratio", "conjugate",
                            "is_integer", "hex"})


_ORDERED = {"__add__": operator.add, "__mul__": operator.mul}


def keep_written_order(result: Any, dunder: str, a: "SymInt", b: "SymInt") -> None:
    """The program computed `result` as `a + b` (or `a * b`) of two symbolic ints: the graph
    computes it in that order, as torch.export records the Python operation (sympy's
    canonical order of the sum may put `b` first)."""
    op = _ORDERED.get(dunder)
    if op is not None and isinstance(result, SymInt):
        result.env.written_order.setdefault(result.expr, (op, (a.expr, b.expr)))


def _python_of(value: Any) -> Any:
    return value._python() if isinstance(value, _SymNumber) else value


def _shift(shift_op):
    """`n << k` / `n >> k` (and reflected): exact when the other operand is a constant
    non-negative int (a product or floor division by 2**k), else computed at the values."""
    def method(self, other):
        if isinstance(other, bool) or not isinstance(other, (int, SymInt)):
            return NotImplemented
        if type(other) is int and other >= 0:
            result = self * 2 ** other if shift_op is operator.lshift else self // 2 ** other
            if isinstance(result, SymValue):
                result.env.written_as.setdefault(result.expr, (shift_op, (self.expr, other)))
            return result
        return shift_op(int(self), int(other))

    def reflected(self, other):
        if isinstance(other, bool) or not isinstance(other, int):
            return NotImplemented
        return shift_op(other, int(self))
    return method, reflected


def _at_value(int_op):
    """A bitwise operator on a symbolic integer, computed at its value (a guard)."""
    def method(self, other):
        if not isinstance(other, (int, SymInt)) or isinstance(other, bool):
            return NotImplemented
        return int_op(int(self), int(other))

    def reflected(self, other):
        if not isinstance(other, int) or isinstance(other, bool):
            return NotImplemented
        return int_op(other, int(self))
    return method, reflected


class SymInt(_SymNumber):
    """A symbolic integer (a size, or an integer computed from sizes)."""

    __slots__ = ()

    __lshift__, __rlshift__ = _shift(operator.lshift)
    __rshift__, __rrshift__ = _shift(operator.rshift)
    __and__, __rand__ = _at_value(operator.and_)
    __or__, __ror__ = _at_value(operator.or_)
    __xor__, __rxor__ = _at_value(operator.xor)

    def __invert__(self):
        return -self - 1

    def __floor__(self):
        return self

    def __ceil__(self):
        return self

    def __trunc__(self):
        return self

    def __round__(self, ndigits=None):
        if ndigits is None or ndigits >= 0:
            return self
        return round(self.env.specialize(self), ndigits)

    def __int__(self) -> int:
        return self.env.specialize(self)

    def __index__(self) -> int:
        return self.env.specialize(self)


class SymFloat(_SymNumber):
    """A symbolic float (a size divided by a number, `torch.sym_float(n)`, a float read
    from data). floor/ceil/trunc/round stay symbolic integers (torch's SymFloat
    semantics); `int()` and `float()` must return Python numbers, so they specialize."""

    __slots__ = ()

    def __floor__(self):
        return self._unary(sympy.floor, math.floor, SymInt)

    def __ceil__(self):
        return self._unary(sympy.ceiling, math.ceil, SymInt)

    def __trunc__(self):
        lo, hi = self.env.bound(strip_float(self.expr))
        func = sympy.floor if lo >= 0 else (sympy.ceiling if hi <= 0 else TruncToInt)
        return self._unary(func, math.trunc, SymInt)

    def __round__(self, ndigits=None):
        if ndigits is None:
            return self._unary(RoundToInt, round, SymInt)
        return round(float(self), ndigits)

    def __int__(self) -> int:
        return int(self.__trunc__())


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
    kind = _result_kind(a, b)
    return wrap(sym_op(*_operands(a, b, kind)), hint, sym.env, kind)


def sym_float(a: Any) -> Any:
    """torch.sym_float: the value as a float, without specializing it."""
    if isinstance(a, SymInt):
        return wrap(ToFloat(a.expr), None if a.hint is None else float(a.hint), a.env, SymFloat)
    return a if isinstance(a, SymFloat) else float(a)


def sym_int(a: Any) -> Any:
    """torch.sym_int: truncation toward zero, symbolic."""
    if isinstance(a, SymValue):
        return math.trunc(a)
    return int(a)


def sym_sqrt(a: Any) -> Any:
    """torch.sym_sqrt: a float square root, symbolic."""
    if not isinstance(a, SymValue):
        return math.sqrt(a)
    if a.hint is not None and a.hint < 0:
        raise ValueError("math domain error")
    hint = None if a.hint is None else math.sqrt(a.hint)
    return wrap(sympy.sqrt(_float_expr(a)), hint, a.env, SymFloat)


def sym_ite(cond: Any, then: Any, other: Any) -> Any:
    """torch.sym_ite: `then if cond else other` without branching on a symbolic cond."""
    if not isinstance(cond, SymBool):
        return then if cond else other
    known = cond.env.static_value(cond.expr)
    if known is not None:
        return then if known else other
    kind = _result_kind(then, other)
    if kind is SymInt and not all(isinstance(v, (int, SymInt)) for v in (then, other)):
        raise TypeError("torch.sym_ite expects both branches of the same type (int or float)")
    t, o = _operands(then, other, kind)
    hint = None if cond.hint is None else _hint_of(then if cond.hint else other)
    return wrap(sympy.Piecewise((t, cond.expr), (o, True)), hint, cond.env, kind)


def is_symbolic(value: Any) -> bool:
    return isinstance(value, SymValue)


def hint_of(value: Any):
    """The example value of a possibly symbolic scalar."""
    return value.hint if isinstance(value, SymValue) else value
