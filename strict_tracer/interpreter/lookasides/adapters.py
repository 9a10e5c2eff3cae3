"""Re-entry adapters: the only way native code calls back into the interpreted program.

A polyfill (polyfills.py) that lets a native do the work hands it adapters in place of the
program's callables, iterables and sort keys; each adapter method re-enters the interpreter
(`context.reentry` suspends the native guard meanwhile), so callbacks and dunders run as
interpreted frames with the native's exact algorithm (order of calls, stability, errors).
"""
from __future__ import annotations

import types
from typing import Any

from ...context import reentry
from ...proxy import TensorProxy
from ..objects.protocols import _MISSING, is_plain, lookup_special
from ..registry import SERVICES

def all_plain(values: Any) -> bool:
    return all(is_plain(v) for v in values)


_adapter_cache: dict[type, bool] = {}


def needs_iter_adapter(value: Any) -> bool:
    """Would native code iterating `value` run Python code (a Python __iter__/__getitem__, a
    proxy)? Non-iterables and C iterables are left to the native."""
    t = type(value)
    known = _adapter_cache.get(t)
    if known is None:
        if t is TensorProxy:
            known = True
        elif getattr(t, "_strict_tracer_native", False):
            known = False
        else:
            raw = lookup_special(t, "__iter__")
            if raw is _MISSING:
                raw = lookup_special(t, "__getitem__")
            known = type(raw) is types.FunctionType
        _adapter_cache[t] = known
    return known


def iterates_natively(value: Any) -> bool:
    return not needs_iter_adapter(value)


class _Adapter:
    """What every adapter is: the interpreter plus one program value (`target`), called
    natively by the guard (`_strict_tracer_native`)."""

    _strict_tracer_native = True
    __slots__ = ("interp", "target")

    def __init__(self, interp, target: Any) -> None:
        self.interp = interp
        self.target = target


class InterpretedCallable(_Adapter):
    """A program callable handed to a native: each call is interpreted."""

    __slots__ = ()

    @reentry
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.interp.call(self.target, args, kwargs)

    def __repr__(self) -> str:
        return f"<interpreted {self.target!r}>"


class TruthCallable(_Adapter):
    """`bool(fn(x))` (or `bool(x)` when fn is None) for natives that only test the result."""

    __slots__ = ()

    @reentry
    def __call__(self, value: Any) -> bool:
        if self.target is None:
            return self.interp.truth(value)
        return self.interp.truth(self.interp.call(self.target, (value,), {}))


class BinaryOpCallable(_Adapter):
    """`a <op> b` through the interpreter's operator protocol (BINARY_OP oparg)."""

    __slots__ = ()

    @reentry
    def __call__(self, a: Any, b: Any) -> Any:
        return self.interp.binary_op(self.target, a, b)


class InterpretedIterator(_Adapter):
    """An iterator whose steps run through the interpreter's iteration protocol."""

    __slots__ = ()

    def __iter__(self) -> "InterpretedIterator":
        return self

    @reentry
    def __next__(self) -> Any:
        return self.interp.next_item(self.target)


class InterpretedIterable(_Adapter):
    """An iterable handed to a native: iter() on it runs the program's __iter__ when the
    native asks for it (so error timing and laziness are the native's own)."""

    __slots__ = ()

    @reentry
    def __iter__(self) -> Any:
        it = self.interp.get_iter(self.target)
        return InterpretedIterator(self.interp, it) if needs_iter_adapter(it) else it


class IterablesIterable(InterpretedIterable):
    """An iterable of iterables (itertools.chain.from_iterable): inner ones are adapted too."""

    __slots__ = ()

    @reentry
    def __iter__(self) -> Any:
        outer = InterpretedIterator(self.interp, self.interp.get_iter(self.target))
        interp = self.interp
        return map(lambda inner: native_iterable(interp, inner), outer)


def native_iterable(interp, value: Any) -> Any:
    """`value` itself if natives iterate it without Python code, else an adapter."""
    return InterpretedIterable(interp, value) if needs_iter_adapter(value) else value


class CompareKey(_Adapter):
    """A sort/min/max key whose ordering comparisons are interpreted (the native sees only
    CompareKeys, so it never compares program objects itself)."""

    __slots__ = ()

    def _compare(self, op: int, other: "CompareKey") -> bool:
        interp = self.interp
        return interp.truth(interp.compare(op, self.target, other.target))

    @reentry
    def __lt__(self, other: "CompareKey") -> bool:
        return self._compare(0, other)

    @reentry
    def __le__(self, other: "CompareKey") -> bool:
        return self._compare(1, other)

    @reentry
    def __gt__(self, other: "CompareKey") -> bool:
        return self._compare(4, other)

    @reentry
    def __ge__(self, other: "CompareKey") -> bool:
        return self._compare(5, other)


class FormatArg(_Adapter):
    """A value handed to native string formatting (`%`, str.format): its str/repr/format and
    the attributes and items a format field reads are interpreted."""

    __slots__ = ()

    @reentry
    def __str__(self) -> str:
        return self.interp.text.to_str(self.target)

    @reentry
    def __repr__(self) -> str:
        return self.interp.text.to_repr(self.target)

    @reentry
    def __format__(self, spec: str) -> str:
        return self.interp.text.format_value(self.target, spec)

    @reentry
    def __getattr__(self, name: str) -> Any:
        return format_arg(self.interp, self.interp.load_attr(self.target, name))

    @reentry
    def __getitem__(self, key: Any) -> Any:
        return format_arg(self.interp, self.interp.subscr(self.target, key))


class NumericFormatArg(FormatArg):
    """A FormatArg for values with number dunders (%d, %x, %f, %c read them)."""

    __slots__ = ()

    @reentry
    def __index__(self) -> int:
        return SERVICES["index_of"](self.interp, self.target)

    @reentry
    def __int__(self) -> int:
        return self.interp.call(int, (self.target,), {})

    @reentry
    def __float__(self) -> float:
        return self.interp.call(float, (self.target,), {})


_format_arg_classes: dict[type, type] = {}


def format_arg(interp, value: Any) -> Any:
    """`value` itself if formatting it runs no Python code, else an adapter. The adapter's
    class is named like the value's type, so the native's error messages read as CPython's."""
    if is_plain(value):
        return value
    t = type(value)
    cls = _format_arg_classes.get(t)
    if cls is None:
        numeric = t is not TensorProxy and any(
            lookup_special(t, name) is not _MISSING for name in ("__index__", "__int__", "__float__"))
        base = NumericFormatArg if numeric else FormatArg
        name = "Tensor" if t is TensorProxy else t.__name__
        cls = _format_arg_classes[t] = type(name, (base,), {"__slots__": ()})
    return cls(interp, value)
