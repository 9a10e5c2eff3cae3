"""Python's object protocols, emulated so that user-defined dunders are interpreted.

Values of builtin types take native fast paths (their C slots cannot run user code). For any
other object we look special methods up on the type, as CPython does, and call them through
the interpreter's call policy: Python functions are interpreted, natives follow the allowlist.
"""
from __future__ import annotations

import collections
import operator
import types
from typing import Any

import torch

from ..proxy import TensorProxy
from ..symbolic import SymValue
from .natives import ITERATOR_TYPES

_MISSING = object()

# Exact types whose operators and attribute access run only C code.
SAFE_TYPES = frozenset({
    int, float, bool, str, bytes, complex, type(None), tuple, list, dict, set, frozenset,
    range, slice, torch.Size, type(Ellipsis), type(NotImplemented), bytearray,
    torch.dtype, torch.device, torch.layout, torch.memory_format,
})

# BINARY_OP oparg -> (operator function, dunder, reflected dunder, in-place dunder, symbol)
_NB = [
    ("add", "+"), ("and_", "&"), ("floordiv", "//"), ("lshift", "<<"), ("matmul", "@"),
    ("mul", "*"), ("mod", "%"), ("or_", "|"), ("pow", "**"), ("rshift", ">>"), ("sub", "-"),
    ("truediv", "/"), ("xor", "^"),
]
BINARY_OPS: list[tuple] = []
for _name, _sym in _NB:
    _dunder = _name.rstrip("_")
    BINARY_OPS.append((getattr(operator, _name), f"__{_dunder}__", f"__r{_dunder}__", None, _sym))
for _name, _sym in _NB:
    _dunder = _name.rstrip("_")
    BINARY_OPS.append((getattr(operator, "i" + _dunder), f"__{_dunder}__", f"__r{_dunder}__",
                       f"__i{_dunder}__", _sym + "="))

# COMPARE_OP oparg -> (operator function, dunder, reflected dunder, symbol)
COMPARE_OPS = [
    (operator.lt, "__lt__", "__gt__", "<"), (operator.le, "__le__", "__ge__", "<="),
    (operator.eq, "__eq__", "__eq__", "=="), (operator.ne, "__ne__", "__ne__", "!="),
    (operator.gt, "__gt__", "__lt__", ">"), (operator.ge, "__ge__", "__le__", ">="),
]

UNARY = {
    "UNARY_NEGATIVE": (operator.neg, "__neg__", "-"),
    "UNARY_POSITIVE": (operator.pos, "__pos__", "+"),
    "UNARY_INVERT": (operator.invert, "__invert__", "~"),
}


def lookup_type(value: Any) -> type:
    """The type whose dunders apply to `value` (a TensorProxy behaves as torch.Tensor)."""
    t = type(value)
    return torch.Tensor if t is TensorProxy else t


def lookup_special(tp: type, name: str) -> Any:
    """`_PyType_Lookup`: the raw attribute `name` in the MRO of `tp`, or _MISSING."""
    for klass in tp.__mro__:
        d = klass.__dict__
        if name in d:
            return d[name]
    return _MISSING


def _is_trusted(value: Any) -> bool:
    """Objects of strict_tracer's own classes: their Python methods are called natively."""
    return getattr(type(value), "_strict_tracer_native", False)


class ProtocolsMixin:
    """Operator, truth, iteration, subscript and attribute protocols for Interpreter."""

    # ------------------------------------------------------------------ special methods
    def call_special(self, obj: Any, name: str, *args: Any, default: Any = _MISSING) -> Any:
        """Call dunder `name` looked up on the type, binding `obj` like CPython does."""
        raw = lookup_special(lookup_type(obj), name)
        if raw is _MISSING:
            if default is not _MISSING:
                return default
            raise AttributeError(f"'{type(obj).__name__}' object has no attribute '{name}'")
        return self.call_unbound(raw, obj, args)

    def call_unbound(self, raw: Any, obj: Any, args: tuple, kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        t = type(raw)
        if t is types.FunctionType:
            return self.inline(raw, (obj, *args), kwargs)
        if t is staticmethod:
            return self.call(raw.__func__, args, kwargs)
        if t is classmethod:
            return self.call(raw.__func__, (type(obj), *args), kwargs)
        if _is_trusted(obj):
            return getattr(obj, raw.__name__)(*args, **kwargs)
        if t in (types.WrapperDescriptorType, types.MethodDescriptorType, types.BuiltinFunctionType):
            return self.call(raw, (obj, *args), kwargs)
        bound = self.bind_descriptor(raw, obj, type(obj))
        return self.call(bound, args, kwargs)

    # ------------------------------------------------------------------ operators
    def binary_op(self, index: int, a: Any, b: Any) -> Any:
        fn, name, rname, iname, symbol = BINARY_OPS[index]
        ta, tb = type(a), type(b)
        if ta in SAFE_TYPES and tb in SAFE_TYPES:
            if iname is not None and ta in (list, dict, set, bytearray):
                self.before_mutation(a)
            return fn(a, b)
        if ta is TensorProxy or tb is TensorProxy:
            if _tensor_operand(a) and _tensor_operand(b):
                return self.tensor_op(fn, (a, b), {})
        elif isinstance(a, SymValue) or isinstance(b, SymValue):
            if isinstance(a, (SymValue, int, float)) and isinstance(b, (SymValue, int, float)):
                return fn(a, b)
        if iname is not None:
            raw = lookup_special(lookup_type(a), iname)
            if raw is not _MISSING:
                result = self.call_unbound(raw, a, (b,))
                if result is not NotImplemented:
                    return result
        return self.binary_protocol(a, b, name, rname, symbol.rstrip("=") if iname else symbol)

    def binary_protocol(self, a: Any, b: Any, name: str, rname: str, symbol: str) -> Any:
        ta, tb = lookup_type(a), lookup_type(b)
        fa = lookup_special(ta, name)
        fb = lookup_special(tb, rname) if tb is not ta else _MISSING
        if fb is not _MISSING and issubclass(tb, ta) and fb is not lookup_special(ta, rname):
            result = self.call_unbound(fb, b, (a,))
            if result is not NotImplemented:
                return result
            fb = _MISSING
        if fa is not _MISSING:
            result = self.call_unbound(fa, a, (b,))
            if result is not NotImplemented:
                return result
        if fb is not _MISSING:
            result = self.call_unbound(fb, b, (a,))
            if result is not NotImplemented:
                return result
        raise TypeError(f"unsupported operand type(s) for {symbol}: '{type(a).__name__}' and "
                        f"'{type(b).__name__}'")

    def compare(self, index: int, a: Any, b: Any) -> Any:
        fn, name, rname, symbol = COMPARE_OPS[index]
        ta, tb = type(a), type(b)
        if ta in SAFE_TYPES and tb in SAFE_TYPES:
            return fn(a, b)
        if ta is TensorProxy or tb is TensorProxy:
            if _tensor_operand(a) and _tensor_operand(b):
                return self.tensor_op(fn, (a, b), {})
        elif isinstance(a, SymValue) or isinstance(b, SymValue):
            if isinstance(a, (SymValue, int, float)) and isinstance(b, (SymValue, int, float)):
                return fn(a, b)
        ta, tb = lookup_type(a), lookup_type(b)
        fa = lookup_special(ta, name)
        fb = lookup_special(tb, rname)
        if tb is not ta and issubclass(tb, ta) and fb is not _MISSING:
            result = self.call_unbound(fb, b, (a,))
            if result is not NotImplemented:
                return result
            fb = _MISSING
        if fa is not _MISSING:
            result = self.call_unbound(fa, a, (b,))
            if result is not NotImplemented:
                return result
        if fb is not _MISSING:
            result = self.call_unbound(fb, b, (a,))
            if result is not NotImplemented:
                return result
        if name == "__eq__":
            return a is b
        if name == "__ne__":
            return a is not b
        raise TypeError(f"'{symbol}' not supported between instances of '{type(a).__name__}' and "
                        f"'{type(b).__name__}'")

    def unary(self, opname: str, v: Any) -> Any:
        fn, name, symbol = UNARY[opname]
        t = type(v)
        if t in SAFE_TYPES or isinstance(v, SymValue):
            return fn(v)
        if t is TensorProxy:
            return self.tensor_op(fn, (v,), {})
        raw = lookup_special(t, name)
        if raw is _MISSING:
            raise TypeError(f"bad operand type for unary {symbol}: '{t.__name__}'")
        return self.call_unbound(raw, v, ())

    def truth(self, v: Any) -> bool:
        t = type(v)
        if t is bool:
            return v
        if t in SAFE_TYPES:
            return bool(v)
        if t is TensorProxy:
            return self.tensor_to_python(v, bool)
        if isinstance(v, SymValue):
            return bool(v)
        if _is_trusted(v):
            return bool(v)
        raw = lookup_special(t, "__bool__")
        if raw is not _MISSING:
            if raw is None:
                raise TypeError(f"'{t.__name__}' object cannot be interpreted as a bool")
            result = self.call_unbound(raw, v, ())
            if type(result) is not bool:
                raise TypeError(f"__bool__ should return bool, returned {type(result).__name__}")
            return result
        raw = lookup_special(t, "__len__")
        if raw is not _MISSING:
            return self.length_of(v, raw) != 0
        return True

    def length_of(self, v: Any, raw: Any = _MISSING) -> int:
        t = type(v)
        if t in SAFE_TYPES:
            return len(v)
        if t is TensorProxy:
            return self.tensor_len(v)
        if raw is _MISSING:
            raw = lookup_special(t, "__len__")
        if raw is _MISSING or raw is None:
            raise TypeError(f"object of type '{t.__name__}' has no len()")
        result = self.call_unbound(raw, v, ())
        return operator.index(result)

    def contains(self, container: Any, item: Any) -> bool:
        t = type(container)
        if t in SAFE_TYPES and (type(item) in SAFE_TYPES or t in (dict, set, frozenset)):
            return item in container
        if t is TensorProxy:
            return self.truth(self.tensor_op(torch.Tensor.__contains__, (container, item), {}))
        raw = lookup_special(t, "__contains__")
        if raw is not _MISSING and not (t in SAFE_TYPES):
            return self.truth(self.call_unbound(raw, container, (item,)))
        # Iterate with `==` (identity first), as PySequence_Contains does.
        it = self.get_iter(container)
        while True:
            try:
                element = self.next_item(it)
            except StopIteration:
                return False
            if element is item or self.truth(self.compare(2, element, item)):
                return True

    # ------------------------------------------------------------------ iteration
    def get_iter(self, v: Any) -> Any:
        t = type(v)
        if t in SAFE_TYPES or t in ITERATOR_TYPES or _is_trusted(v):
            return iter(v)
        if t is TensorProxy:
            return self.tensor_iter(v)
        raw = lookup_special(t, "__iter__")
        if raw is None:
            raise TypeError(f"'{t.__name__}' object is not iterable")
        if raw is not _MISSING:
            if type(raw) is types.FunctionType:
                return self.call_unbound(raw, v, ())
            return self.call_native_method(raw, v)
        if lookup_special(t, "__getitem__") is not _MISSING:
            from .generators import SequenceIterator
            return SequenceIterator(self, v)
        raise TypeError(f"'{t.__name__}' object is not iterable")

    def next_item(self, it: Any) -> Any:
        """next(it); raises StopIteration when exhausted."""
        t = type(it)
        if t in ITERATOR_TYPES:
            return next(it)
        raw = lookup_special(t, "__next__")
        if type(raw) is types.FunctionType and not _is_trusted(it):
            return self.call_unbound(raw, it, ())
        if raw is _MISSING:
            raise TypeError(f"'{t.__name__}' object is not an iterator")
        return next(it)

    def call_native_method(self, raw: Any, obj: Any, *args: Any) -> Any:
        return self.call(raw, (obj, *args), {})

    # ------------------------------------------------------------------ subscripts
    def subscr(self, obj: Any, key: Any) -> Any:
        t = type(obj)
        if t in SAFE_TYPES:
            if t is dict or type(key) is not TensorProxy:
                return obj[key]
        if t is TensorProxy:
            return self.tensor_op(operator.getitem, (obj, key), {})
        if isinstance(obj, type):
            raw = getattr(obj, "__class_getitem__", None)
            if raw is not None and lookup_special(type(obj), "__getitem__") is _MISSING:
                return raw(key)
        raw = lookup_special(t, "__getitem__")
        if raw is _MISSING:
            raise TypeError(f"'{t.__name__}' object is not subscriptable")
        if t is collections.defaultdict and key not in obj:
            # defaultdict.__missing__ would call the factory natively: call it ourselves.
            if obj.default_factory is None:
                raise KeyError(key)
            value = self.call(obj.default_factory, (), {})
            self.before_mutation(obj)
            obj[key] = value
            return value
        return self.call_unbound(raw, obj, (key,))

    def store_subscr(self, obj: Any, key: Any, value: Any) -> None:
        t = type(obj)
        if t is TensorProxy:
            self.tensor_op(operator.setitem, (obj, key, value), {})
            return
        if t in (list, dict, bytearray):
            self.before_mutation(obj)
            obj[key] = value
            return
        raw = lookup_special(t, "__setitem__")
        if raw is _MISSING:
            raise TypeError(f"'{t.__name__}' object does not support item assignment")
        if type(raw) is not types.FunctionType:
            self.before_mutation(obj)
        self.call_unbound(raw, obj, (key, value))

    def delete_subscr(self, obj: Any, key: Any) -> None:
        t = type(obj)
        if t in (list, dict, bytearray):
            self.before_mutation(obj)
            del obj[key]
            return
        raw = lookup_special(t, "__delitem__")
        if raw is _MISSING:
            raise TypeError(f"'{t.__name__}' object does not support item deletion")
        if type(raw) is not types.FunctionType:
            self.before_mutation(obj)
        self.call_unbound(raw, obj, (key,))


def _tensor_operand(v: Any) -> bool:
    """Operands torch's own operator overloads handle (anything else uses the full protocol)."""
    t = type(v)
    return (t is TensorProxy or t in (int, float, bool, complex) or isinstance(v, SymValue)
            or isinstance(v, torch.Tensor))

