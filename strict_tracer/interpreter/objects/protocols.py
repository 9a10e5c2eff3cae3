"""Python's object protocols, emulated so that user-defined dunders are interpreted.

Plain values (numbers, strings, tuples of them) take native fast paths: their C slots cannot
run user code. For any other object we look special methods up on the type, as CPython does,
and call them through the interpreter: Python functions are interpreted; the C slots of
builtin types run natively under the native guard (guard.py), which refuses if they would run
Python code themselves (a list compared elementwise holding user objects, a dict hashing a
user key, ...). Containers of user objects are compared and searched element by element here.
"""
from __future__ import annotations

import collections
import operator
import sys
import types
from typing import Any

import torch

from ...proxy import SymSize, TensorProxy
from ...symbolic import SymBool, SymFloat, SymInt, SymValue
from ...symbolic.values import keep_written_order
from ..registry import SERVICES, SPECIAL

_MISSING = object()

# Exact types whose operators and attribute access run only C code.
SAFE_TYPES = frozenset({
    int, float, bool, str, bytes, complex, type(None), tuple, list, dict, set, frozenset,
    range, slice, torch.Size, type(Ellipsis), type(NotImplemented), bytearray,
    torch.dtype, torch.device, torch.layout, torch.memory_format,
})
# Scalars: operators on two of these never run Python code (no elements to visit).
PLAIN_SCALARS = frozenset({int, float, bool, str, bytes, complex, type(None)})
# Builtin iterators whose __next__ never runs Python code.
PURE_ITERATORS = frozenset({
    type(iter([])), type(iter(())), type(iter({})), type(iter({}.values())),
    type(iter({}.items())), type(iter(range(0))), type(iter(range(1 << 70))), type(iter(set())),
    type(iter("")), type(iter(b"")), type(iter(bytearray())), type(reversed([])),
    type(reversed({})), type(reversed(range(0))), type(iter(collections.deque())),
})
# C sequence types implement + and * as sequence slots, which CPython tries after both
# operands' number slots: the right operand's Python __radd__/__rmul__ goes first.
_SEQUENCE_SLOT_TYPES = frozenset({str, bytes, bytearray, list, tuple, collections.deque})
_SEQUENCE_SLOT_NAMES = frozenset({"__add__", "__mul__", "__iadd__", "__imul__"})
_NATIVE_SLOTS = (types.WrapperDescriptorType, types.MethodDescriptorType)
_OBJECT_NE = object.__dict__["__ne__"]
_REPEATABLE = (list, tuple, str, bytes, bytearray)
_OBJECT_EQ = object.__dict__["__eq__"]

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
_EQ, _NE = 2, 3

UNARY = {
    "UNARY_NEGATIVE": (operator.neg, "__neg__", "-"),
    "UNARY_POSITIVE": (operator.pos, "__pos__", "+"),
    "UNARY_INVERT": (operator.invert, "__invert__", "~"),
}


def lookup_type(value: Any) -> type:
    """The type whose dunders apply to `value` (a TensorProxy behaves as torch.Tensor)."""
    t = type(value)
    return torch.Tensor if t is TensorProxy else t


# The types our stand-ins answer for: what `type(v)`, `v.__class__` and isinstance() report
# for them in the traced program (symbolic scalars are the Python numbers they stand for,
# as eager has only ints; interpreted generators, frames... register themselves).
STAND_IN_TYPES: dict[type, type] = {SymInt: int, SymFloat: float, SymBool: bool,
                                     SymSize: torch.Size}


def stands_for(python_type_: type):
    """Class decorator: instances of the class answer introspection as `python_type_`."""
    def register(cls: type) -> type:
        STAND_IN_TYPES[cls] = python_type_
        return cls
    return register


def python_type(value: Any) -> type:
    """type(value) as eager Python would report it."""
    t = type(value)
    if t is TensorProxy:
        return value.py_type
    return STAND_IN_TYPES.get(t, t)


def type_name(value: Any) -> str:
    """The type name eager Python would print for `value` in an error message."""
    return python_type(value).__name__


def display_name(t: type) -> str:
    """The name eager Python prints for objects of type `t` (stand-ins and proxies answer as
    what they stand for)."""
    return (torch.Tensor if t is TensorProxy else STAND_IN_TYPES.get(t, t)).__name__


def lookup_special(tp: type, name: str) -> Any:
    """`_PyType_Lookup`: the raw attribute `name` in the MRO of `tp`, or _MISSING."""
    for klass in tp.__mro__:
        d = klass.__dict__
        if name in d:
            return d[name]
    return _MISSING


_trusted_types: dict[type, bool] = {}


def is_trusted(value: Any) -> bool:
    """Objects of strict_tracer's own classes: their Python methods are called natively."""
    t = type(value)
    trusted = _trusted_types.get(t)
    if trusted is None:
        trusted = _trusted_types[t] = bool(
            lookup_special(t, "_strict_tracer_native") is True or issubclass(t, SymValue))
    return trusted


_is_trusted = is_trusted


_PLAIN_SEQUENCES = frozenset({tuple, list, frozenset})


def is_plain(value: Any, depth: int = 0) -> bool:
    """True if native code handling `value` (compare, hash, format) runs no Python code."""
    t = type(value)
    if t in PLAIN_SCALARS:
        return True
    if depth < 4 and (t in _PLAIN_SEQUENCES or t is torch.Size):
        return all(is_plain(v, depth + 1) for v in value)
    return False


def qualified_name(fn: Any) -> str:
    """`module.qualname` of a callable as refusals name it (a bound builtin by its type)."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    owner = getattr(fn, "__self__", None)
    if module is None and owner is not None and not issubclass(type(owner), types.ModuleType):
        home = sys.modules.get(type(owner).__module__)
        name = getattr(fn, "__name__", qualname)
        if home is not None and getattr(home, name, None) == fn:
            return f"{home.__name__}.{name}"      # a module-level alias: random.random
        return f"{display_name(type(owner))}.{name}"
    return f"{module}.{qualname}" if module and module != "builtins" else qualname


def _tensor_operand(v: Any) -> bool:
    """Operands torch's own operator overloads handle (anything else uses the full protocol)."""
    t = type(v)
    return (t is TensorProxy or t in (int, float, bool, complex) or issubclass(type(v), SymValue)
            or issubclass(type(v), torch.Tensor))


class ProtocolsMixin:
    """Operator, truth, iteration, subscript and containment protocols for Interpreter."""

    python_type = staticmethod(python_type)

    # ------------------------------------------------------------------ special methods
    def call_unbound(self, raw: Any, obj: Any, args: tuple, kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        t = type(raw)
        if is_trusted(obj) and hasattr(raw, "__name__"):
            return getattr(obj, raw.__name__)(*args, **kwargs)
        if t is types.FunctionType:
            handler = SPECIAL.get(raw)      # library methods the tracer implements itself
            if handler is not None:
                return handler(self, (obj, *args), kwargs)
            return self.inline(raw, (obj, *args), kwargs)
        if t is staticmethod:
            return self.call(raw.__func__, args, kwargs)
        if t is classmethod:
            return self.call(raw.__func__, (type(obj), *args), kwargs)
        if t in (types.WrapperDescriptorType, types.MethodDescriptorType, types.BuiltinFunctionType):
            return self.call(raw, (obj, *args), kwargs)
        bound = self.bind_descriptor(raw, obj, type(obj))
        return self.call(bound, args, kwargs)

    def call_slot(self, raw: Any, obj: Any, args: tuple) -> Any:
        """Call an operator dunder: Python ones interpreted, C slots natively (guarded)."""
        if raw is _OBJECT_NE:
            return self._object_ne(obj, args[0])
        if isinstance(obj, torch.Tensor) and type(raw) in _NATIVE_SLOTS:
            # A real tensor (a buffer reached through a plain object, a constant): its value
            # may be written by the graph, so the operator is recorded on its lifted proxy.
            obj = self.tensors.lift(obj)
        if type(raw) in _NATIVE_SLOTS and type(obj) is not TensorProxy:
            return self.guard.run_native(raw, obj, *args)
        return self.call_unbound(raw, obj, args)

    def _object_ne(self, a: Any, b: Any) -> Any:
        """object.__ne__: the type's __eq__ inverted, unless it returns NotImplemented."""
        eq = lookup_special(lookup_type(a), "__eq__")
        if eq is _OBJECT_EQ:
            return NotImplemented if a is not b else False
        result = self.call_slot(eq, a, (b,))
        if result is NotImplemented:
            return result
        return not self.truth(result)

    # ------------------------------------------------------------------ operators
    def binary_op(self, index: int, a: Any, b: Any) -> Any:
        fn, name, rname, iname, symbol = BINARY_OPS[index]
        ta, tb = type(a), type(b)
        if ta in PLAIN_SCALARS and tb in PLAIN_SCALARS:
            return fn(a, b)
        if ta is TensorProxy or tb is TensorProxy:
            return self._tensor_binary(fn, a, b, iname or name, rname)
        if issubclass(type(a), SymValue) or issubclass(type(b), SymValue):
            if issubclass(type(a), (SymValue, int, float)) and issubclass(type(b), (SymValue, int, float)):
                result = fn(a, b)
                if ta is SymInt and tb is SymInt:
                    keep_written_order(result, name, a, b)
                return result
            if name == "__mul__" and ((ta in _REPEATABLE and tb is SymInt)
                                      or (tb in _REPEATABLE and ta is SymInt)):
                # A sequence repeated by a symbolic count: its length is a Python int, so the
                # count is specialized (guarded; a constraint violation if declared dynamic).
                a, b = (a, b.__index__()) if ta in _REPEATABLE else (a.__index__(), b)
                return self.binary_op(index, a, b)
        if (ta is str or ta is bytes) and name == "__mod__":
            return SERVICES["percent_format"](self, a, b)
        if ta in SAFE_TYPES and tb in SAFE_TYPES:
            if iname is not None and ta in (list, dict, set, bytearray):
                self.state.sandbox.before_mutation(a)
            return self.guard.run_native(fn, a, b)
        deferred = None
        if iname is not None:
            raw = lookup_special(lookup_type(a), iname)
            if raw is not _MISSING and raw is not None:
                if ta in _SEQUENCE_SLOT_TYPES and type(raw) in _NATIVE_SLOTS:
                    deferred = raw      # sq_inplace_concat/repeat: after the number slots
                else:
                    result = self.call_slot(raw, a, (b,))
                    if result is not NotImplemented:
                        return result
        if deferred is not None and ta in (list, bytearray, collections.deque):
            self.state.sandbox.before_mutation(a)
        return self.binary_protocol(a, b, name, rname, symbol.rstrip("=") if iname else symbol,
                                    deferred)

    def _tensor_binary(self, fn: Any, a: Any, b: Any, name: str, rname: str) -> Any:
        if _tensor_operand(a) and _tensor_operand(b):
            return self.tensors.op(fn, (a, b), {})
        # A program object on the other side may implement the operator itself.
        if type(a) is TensorProxy:
            raw = lookup_special(type(b), rname)
            if type(raw) is types.FunctionType:
                result = self.inline(raw, (b, a), {})
                if result is not NotImplemented:
                    return result
        else:
            raw = lookup_special(type(a), name)
            if type(raw) is types.FunctionType:
                result = self.inline(raw, (a, b), {})
                if result is not NotImplemented:
                    return result
        return self.tensors.op(fn, (a, b), {})

    def binary_protocol(self, a: Any, b: Any, name: str, rname: str, symbol: str,
                        sequence_inplace: Any = None) -> Any:
        """binary_op1 of abstract.c, with Python dunders interpreted: the left number slot
        (or the right one first when its type is a subclass overriding it), then the right
        one, then the C sequence slots (in-place concat/repeat given by the caller, else
        concat/repeat)."""
        ta, tb = lookup_type(a), lookup_type(b)
        fa = lookup_special(ta, name)
        fb = lookup_special(tb, rname) if tb is not ta else _MISSING
        if fa is None:
            fa = _MISSING
        if fb is None:
            fb = _MISSING
        sequence_slot = None
        if ta in _SEQUENCE_SLOT_TYPES and name in _SEQUENCE_SLOT_NAMES and type(fa) in _NATIVE_SLOTS:
            sequence_slot, fa = fa, _MISSING
        subclass_first = fb is not _MISSING and issubclass(tb, ta) and \
            fb is not lookup_special(ta, rname)
        result = self._call_slot_pair(fa, a, fb, b, subclass_first)
        if result is not NotImplemented:
            return result
        slot = sequence_inplace if sequence_inplace is not None else sequence_slot
        if slot is not None:
            if name == "__mul__":        # sequence repeat: the count goes through __index__
                if lookup_special(tb, "__index__") is _MISSING:
                    raise TypeError(f"can't multiply sequence by non-int of type '{display_name(tb)}'")
                b = SERVICES["index_of"](self, b)
            return self.call_slot(slot, a, (b,))
        raise TypeError(f"unsupported operand type(s) for {symbol}: '{display_name(ta)}' and "
                        f"'{display_name(tb)}'")

    def _call_slot_pair(self, fa: Any, a: Any, fb: Any, b: Any, reflected_first: bool) -> Any:
        """CPython's order for a binary slot: `a.fa(b)` then the reflected `b.fb(a)`, the
        reflected one first when b's type is a subclass that provides it; NotImplemented
        when both decline (or are _MISSING)."""
        if reflected_first:
            result = self.call_slot(fb, b, (a,))
            if result is not NotImplemented:
                return result
            fb = _MISSING
        if fa is not _MISSING:
            result = self.call_slot(fa, a, (b,))
            if result is not NotImplemented:
                return result
        if fb is not _MISSING:
            return self.call_slot(fb, b, (a,))
        return NotImplemented

    def compare(self, index: int, a: Any, b: Any) -> Any:
        fn, name, rname, symbol = COMPARE_OPS[index]
        ta, tb = type(a), type(b)
        if ta in PLAIN_SCALARS and tb in PLAIN_SCALARS:
            return fn(a, b)
        if ta is TensorProxy or tb is TensorProxy:
            return self._tensor_binary(fn, a, b, name, rname)
        if issubclass(type(a), SymValue) or issubclass(type(b), SymValue):
            if issubclass(type(a), (SymValue, int, float)) and issubclass(type(b), (SymValue, int, float)):
                return fn(a, b)
            if name == "__mul__" and ((ta in _REPEATABLE and tb is SymInt)
                                      or (tb in _REPEATABLE and ta is SymInt)):
                # A sequence repeated by a symbolic count: its length is a Python int, so the
                # count is specialized (guarded; a constraint violation if declared dynamic).
                a, b = (a, b.__index__()) if ta in _REPEATABLE else (a.__index__(), b)
                return self.binary_op(index, a, b)
        if ta is tb and (ta is list or ta is tuple):
            return self._compare_sequences(index, a, b)
        if ta in SAFE_TYPES and tb in SAFE_TYPES:
            return self.guard.run_native(fn, a, b)
        ta, tb = lookup_type(a), lookup_type(b)
        fa = lookup_special(ta, name)
        fb = lookup_special(tb, rname)
        result = self._call_slot_pair(fa, a, fb, b,
                                      tb is not ta and issubclass(tb, ta) and fb is not _MISSING)
        if result is not NotImplemented:
            return result
        if index == _EQ:
            return a is b
        if index == _NE:
            return a is not b
        raise TypeError(f"'{symbol}' not supported between instances of '{display_name(ta)}' and "
                        f"'{display_name(tb)}'")

    def _compare_sequences(self, index: int, a: Any, b: Any) -> Any:
        """list/tuple rich comparison (listobject.c list_richcompare) element by element."""
        if is_plain(a) and is_plain(b):
            return COMPARE_OPS[index][0](a, b)
        if type(a) is list and len(a) != len(b) and index in (_EQ, _NE):
            return index == _NE
        i = 0
        while i < len(a) and i < len(b):
            x, y = a[i], b[i]
            if x is not y and not self.truth(self.compare(_EQ, x, y)):
                break
            i += 1
        if i >= len(a) or i >= len(b):
            return COMPARE_OPS[index][0](len(a), len(b))
        if index == _EQ:
            return False
        if index == _NE:
            return True
        return self.compare(index, a[i], b[i])

    def unary(self, opname: str, v: Any) -> Any:
        fn, name, symbol = UNARY[opname]
        t = type(v)
        if t in SAFE_TYPES or issubclass(type(v), SymValue):
            return fn(v)
        if t is TensorProxy:
            return self.tensors.op(fn, (v,), {})
        raw = lookup_special(t, name)
        if raw is _MISSING or raw is None:
            raise TypeError(f"bad operand type for unary {symbol}: '{display_name(t)}'")
        return self.call_slot(raw, v, ())

    def truth(self, v: Any) -> bool:
        t = type(v)
        if t is bool:
            return v
        if t in SAFE_TYPES:
            return bool(v)
        if t is TensorProxy:
            return self.tensors.to_python(v, bool)
        if is_trusted(v):
            return bool(v)
        raw = lookup_special(t, "__bool__")
        if raw is not _MISSING:
            if raw is None:
                raise TypeError(f"'{display_name(t)}' object cannot be interpreted as a bool")
            result = self.call_slot(raw, v, ())
            if type(result) is not bool:
                raise TypeError(f"__bool__ should return bool, returned {display_name(type(result))}")
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
            return self.tensors.length(v)
        if raw is _MISSING:
            raw = lookup_special(t, "__len__")
        if raw is _MISSING or raw is None:
            raise TypeError(f"object of type '{display_name(t)}' has no len()")
        result = self.call_slot(raw, v, ())
        if type(result) is not int:
            try:
                result = SERVICES["index_of"](self, result)
            except TypeError:
                raise TypeError(f"'{display_name(type(result))}' object cannot be interpreted as an "
                                "integer") from None
        if result < 0:
            raise ValueError("__len__() should return >= 0")
        return result

    def contains(self, container: Any, item: Any) -> bool:
        t = type(container)
        if t is dict or t is set or t is frozenset:
            if is_plain(item):
                return item in container
            return self.guard.run_native(operator.contains, container, item)
        if t in SAFE_TYPES:
            if type(item) in PLAIN_SCALARS and (t is str or t is bytes or t is range
                                                or is_plain(container)):
                return item in container
            if t is str or t is bytes or t is range or t is bytearray:
                return self.guard.run_native(operator.contains, container, item)
        elif t is TensorProxy:
            return self.truth(self.tensors.op(torch.Tensor.__contains__, (container, item), {}))
        else:
            raw = lookup_special(t, "__contains__")
            if raw is not _MISSING:
                if raw is None:
                    raise TypeError(f"'{display_name(t)}' object is not a container")
                return self.truth(self.call_slot(raw, container, (item,)))
        # Iterate with `==` (identity first), as PySequence_Contains does.
        try:
            it = self.get_iter(container)
        except TypeError:
            raise TypeError(f"argument of type '{python_type(container).__name__}' is not "
                            "iterable") from None
        while True:
            try:
                element = self.next_item(it)
            except StopIteration:
                return False
            if element is item or self.same_tensor(element, item) \
                    or self.truth(self.compare(_EQ, element, item)):
                return True

    def same_tensor(self, a: Any, b: Any) -> bool:
        """`a is b` where one side is a real module tensor and the other its lifted proxy."""
        ta, tb = type(a), type(b)
        if ta is TensorProxy and issubclass(type(b), torch.Tensor):
            return self.state.lifted_proxy(b) is a
        if tb is TensorProxy and issubclass(type(a), torch.Tensor):
            return self.state.lifted_proxy(a) is b
        return False
