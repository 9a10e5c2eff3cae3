"""Polyfills for builtins that call back into the program (callbacks or dunders).

Each is a SPECIAL handler. Plain arguments (numbers, strings, tuples of them) go straight to
the native; otherwise the handler either hands the native re-entry adapters (adapters.py), so
the native's own algorithm runs with every callback interpreted, or follows the builtin's
protocol itself (numeric conversions; min/max/sum/any/all in polyfills_folds.py) through the interpreter's
operator protocols. Argument errors are left to the native, which raises them before it
touches any argument.
"""
from __future__ import annotations

import builtins
import collections
import operator
import types
from typing import Any

import torch

from ...context import reentry
from ...proxy import TensorProxy
from ...symbolic import SymFloat, SymInt
from ...symbolic.values import sym_float, sym_int
from .adapters import (InterpretedCallable, format_arg, InterpretedIterable, TruthCallable,
                       all_plain, is_plain, native_iterable, needs_iter_adapter)
from ..registry import provides, special
from ..tensors.known_values import known_value
from ..tensors.symbolic_calls import tensor_item
from ..objects.protocols import _MISSING, lookup_special, lookup_type, stands_for, display_name



# ---------------------------------------------------------------- lazy iterator builtins
@special(builtins.map)
def _map(interp, args, kwargs):
    if len(args) < 2 or kwargs:
        return interp.guard.run_native(map, *args, **kwargs)
    fn = InterpretedCallable(interp, args[0])
    return interp.guard.run_native(map, fn, *(native_iterable(interp, a) for a in args[1:]))


@special(builtins.filter)
def _filter(interp, args, kwargs):
    if len(args) != 2 or kwargs:
        return interp.guard.run_native(filter, *args, **kwargs)
    return interp.guard.run_native(filter, TruthCallable(interp, args[0]), native_iterable(interp, args[1]))


@special(builtins.zip)
def _zip(interp, args, kwargs):
    return interp.guard.run_native(zip, *(native_iterable(interp, a) for a in args), **kwargs)


@special(builtins.enumerate)
def _enumerate(interp, args, kwargs):
    if args:
        args = (native_iterable(interp, args[0]), *args[1:])
    elif "iterable" in kwargs:
        kwargs = {**kwargs, "iterable": native_iterable(interp, kwargs["iterable"])}
    return interp.guard.run_native(enumerate, *args, **kwargs)


@stands_for(reversed)
class _ReversedSequence:
    """reversed() of an object with Python __len__/__getitem__ (the sequence protocol)."""

    _strict_tracer_native = True
    __slots__ = ("interp", "seq", "index")

    def __init__(self, interp, seq: Any, length: int) -> None:
        self.interp, self.seq, self.index = interp, seq, length - 1

    def __iter__(self) -> "_ReversedSequence":
        return self

    @reentry
    def __next__(self) -> Any:
        if self.index >= 0:
            try:
                item = self.interp.subscr(self.seq, self.index)
            except (IndexError, StopIteration):
                pass
            else:
                self.index -= 1
                return item
        self.index = -1
        raise StopIteration


@special(builtins.reversed)
def _reversed(interp, args, kwargs):
    if len(args) != 1 or kwargs:
        return interp.guard.run_native(reversed, *args, **kwargs)
    seq = args[0]
    tp = lookup_type(seq)
    raw = lookup_special(tp, "__reversed__")
    if raw is None:
        raise TypeError(f"'{display_name(tp)}' object is not reversible")
    if type(raw) is types.FunctionType:
        return interp.call_unbound(raw, seq, ())
    if raw is not _MISSING:
        return interp.guard.run_native(reversed, seq)
    getitem, length = lookup_special(tp, "__getitem__"), lookup_special(tp, "__len__")
    if getitem is _MISSING or length is _MISSING or tp is dict:
        raise TypeError(f"'{display_name(tp)}' object is not reversible")
    if type(getitem) is not types.FunctionType and type(length) is not types.FunctionType:
        return interp.guard.run_native(reversed, seq)
    return _ReversedSequence(interp, seq, interp.length_of(seq))


# ---------------------------------------------------------------- containers from iterables
def _construct_from_iterable(native: type):
    def handler(interp, args, kwargs):
        if len(args) == 1 and not kwargs and needs_iter_adapter(args[0]):
            args = (InterpretedIterable(interp, args[0]),)
        result = interp.guard.run_native(native, *args, **kwargs)
        interp.state.sandbox.mark_fresh(result)
        return result
    return handler


for _cls in (list, tuple, set, frozenset, bytearray, collections.deque):
    special(_cls)(_construct_from_iterable(_cls))


def _iterable_method(native: Any, mutates: bool):
    """A method whose arguments after self are iterables it consumes."""
    def handler(interp, args, kwargs):
        if args:
            if mutates and issubclass(type(args[0]), (list, set, bytearray, collections.deque)):
                interp.state.sandbox.before_mutation(args[0])
            args = (args[0], *(native_iterable(interp, a) for a in args[1:]))
        return interp.guard.run_native(native, *args, **kwargs)
    return handler


for _native, _mutates in (
        (list.extend, True), (list.__init__, True), (list.__iadd__, True),
        (set.update, True), (set.intersection_update, True), (set.difference_update, True),
        (set.symmetric_difference_update, True), (set.__init__, True),
        (set.union, False), (set.intersection, False), (set.difference, False),
        (set.symmetric_difference, False), (set.issubset, False), (set.issuperset, False),
        (set.isdisjoint, False), (frozenset.union, False), (frozenset.intersection, False),
        (frozenset.difference, False), (frozenset.symmetric_difference, False),
        (frozenset.issubset, False), (frozenset.issuperset, False), (frozenset.isdisjoint, False),
        (str.join, False), (bytes.join, False), (bytearray.join, False),
        (bytearray.extend, True), (collections.deque.extend, True),
        (collections.deque.extendleft, True), (collections.deque.__init__, True)):
    special(_native)(_iterable_method(_native, _mutates))


def _mapping_argument(interp, value: Any) -> Any:
    """What dict(value) / dict.update(value) should receive: `value` if its keys and items are
    read natively (a dict that keeps dict iteration), else pairs read by the interpreter."""
    if issubclass(type(value), dict) and lookup_special(type(value), "__iter__") is dict.__iter__:
        return value
    try:
        interp.load_attr(value, "keys")
    except AttributeError:
        return native_iterable(interp, value)
    return interp.mapping_items(value)


def _dict_like(native: Any, mutates: bool):
    def handler(interp, args, kwargs):
        first = 1 if native is not dict else 0
        if mutates and args and issubclass(type(args[0]), dict):
            interp.state.sandbox.before_mutation(args[0])
        if len(args) == first + 1:
            args = (*args[:first], _mapping_argument(interp, args[first]))
        result = interp.guard.run_native(native, *args, **kwargs)
        if native is dict:
            interp.state.sandbox.mark_fresh(result)
        return result
    return handler


special(dict)(_dict_like(dict, False))
special(dict.update)(_dict_like(dict.update, True))
special(dict.__init__)(_dict_like(dict.__init__, True))
special(collections.OrderedDict.update)(_dict_like(collections.OrderedDict.update, True))


# ---------------------------------------------------------------- numeric protocols
def _dunder_result(interp, value: Any, dunder: str, args: tuple, error: str) -> Any:
    raw = lookup_special(lookup_type(value), dunder)
    if raw is _MISSING or raw is None:
        raise TypeError(error.format(type(value).__name__))
    return interp.call_unbound(raw, value, args)


def _needs_protocol(value: Any) -> bool:
    return not is_plain(value)


@special(builtins.abs)
def _abs(interp, args, kwargs):
    if len(args) != 1 or kwargs or not _needs_protocol(args[0]):
        return interp.guard.run_native(abs, *args, **kwargs)
    return _dunder_result(interp, args[0], "__abs__", (), "bad operand type for abs(): '{}'")


@special(builtins.round)
def _round(interp, args, kwargs):
    if not 1 <= len(args) <= 2 or kwargs or all_plain(args):
        return interp.guard.run_native(round, *args, **kwargs)
    extra = args[1:] if len(args) == 2 and args[1] is not None else ()
    return _dunder_result(interp, args[0], "__round__", extra,
                          "type {} doesn't define __round__ method")


@special(builtins.divmod)
def _divmod(interp, args, kwargs):
    if len(args) != 2 or kwargs or all_plain(args):
        return interp.guard.run_native(divmod, *args, **kwargs)
    return interp.binary_protocol(args[0], args[1], "__divmod__", "__rdivmod__", "divmod()")


@special(builtins.pow)
def _pow(interp, args, kwargs):
    if len(args) == 2 and not kwargs and not all_plain(args):
        return interp.binary_op(8, args[0], args[1])
    if len(args) == 3 and not kwargs and any(isinstance(a, (SymInt, SymFloat)) for a in args):
        # pow(b, e, m) has no __rpow__ path: a modular power is computed at the values, each
        # symbolic operand guarded (a constraint violation if it was declared dynamic).
        args = tuple(int(a) if isinstance(a, SymInt) else float(a) if isinstance(a, SymFloat)
                     else a for a in args)
    return interp.guard.run_native(pow, *args, **kwargs)


@provides("index_of")
def index_of(interp, value: Any) -> int:
    """operator.index(value) with a Python __index__ interpreted."""
    if type(value) is int:
        return value
    if is_plain(value) or type(value) is TensorProxy:
        return interp.guard.run_native(_index, value)
    result = _dunder_result(interp, value, "__index__", (),
                            "'{}' object cannot be interpreted as an integer")
    if not issubclass(type(result), int):
        raise TypeError(f"__index__ returned non-int (type {display_name(type(result))})")
    return result


def _index(value: Any) -> int:
    import operator
    return operator.index(value)


def _index_then(native: Any):
    def handler(interp, args, kwargs):
        if len(args) != 1 or kwargs or is_plain(args[0]):
            return interp.guard.run_native(native, *args, **kwargs)
        return native(index_of(interp, args[0]))
    return handler


for _native in (bin, hex, oct, chr):
    special(_native)(_index_then(_native))


def _read_number(interp, args: tuple, kwargs: dict) -> Any:
    """The one value `int(t)`/`float(t)` read from a real, non-bool tensor: `.item()` (an
    unbacked symbol, as torch.export records it), or _MISSING when the call is not that."""
    if len(args) != 1 or kwargs or type(args[0]) is not TensorProxy:
        return _MISSING
    dtype = args[0].meta.dtype
    if dtype is torch.bool or dtype.is_complex:
        return _MISSING
    known = known_value(interp.state, args[0].node)
    return known.item() if known is not None else tensor_item(interp, args[0])


@special(int)
def _int(interp, args, kwargs):
    read = _read_number(interp, args, kwargs)
    if read is not _MISSING:
        return sym_int(read)
    if len(args) != 1 or kwargs or is_plain(args[0]) or type(args[0]) is TensorProxy:
        result = interp.guard.run_native(int, *args, **kwargs)
        return result
    value = args[0]
    tp = lookup_type(value)
    for dunder in ("__int__", "__index__", "__trunc__"):
        raw = lookup_special(tp, dunder)
        if raw is not _MISSING and raw is not None:
            result = interp.call_unbound(raw, value, ())
            if not issubclass(type(result), int):
                raise TypeError(f"{dunder} returned non-int (type {display_name(type(result))})")
            return int(result) if type(result) is not int and dunder != "__trunc__" else result
    raise TypeError("int() argument must be a string, a bytes-like object or a real number, "
                    f"not '{display_name(type(value))}'")


@special(float)
def _float(interp, args, kwargs):
    read = _read_number(interp, args, kwargs)
    if read is not _MISSING:
        return sym_float(read)
    if len(args) != 1 or kwargs or is_plain(args[0]) or type(args[0]) is TensorProxy:
        return interp.guard.run_native(float, *args, **kwargs)
    value = args[0]
    tp = lookup_type(value)
    raw = lookup_special(tp, "__float__")
    if raw is not _MISSING and raw is not None:
        result = interp.call_unbound(raw, value, ())
        if not issubclass(type(result), float):
            raise TypeError(f"{display_name(tp)}.__float__ returned non-float (type "
                            f"{display_name(type(result))})")
        return float(result)
    if lookup_special(tp, "__index__") is not _MISSING:
        return float(index_of(interp, value))
    raise TypeError(f"float() argument must be a string or a real number, not '{display_name(tp)}'")


@special(range)
def _range(interp, args, kwargs):
    if kwargs or not all(type(a) is int for a in args):
        args = tuple(a if is_plain(a) or type(a) is TensorProxy else index_of(interp, a)
                     for a in args)
    return interp.guard.run_native(range, *args, **kwargs)


@special(bool)
def _bool(interp, args, kwargs):
    if len(args) != 1 or kwargs:
        return interp.guard.run_native(bool, *args, **kwargs)
    return interp.truth(args[0])


@special(builtins.ascii)
def _ascii(interp, args, kwargs):
    if len(args) != 1 or kwargs:
        return interp.guard.run_native(ascii, *args, **kwargs)
    return interp.text.to_repr(args[0]).encode("ascii", "backslashreplace").decode("ascii")


# ---------------------------------------------------------------- string formatting
@provides("percent_format")
def percent_format(interp, template: Any, args: Any) -> Any:
    """`template % args` (str/bytes) with the arguments' str/repr/format interpreted."""
    t = type(args)
    if t is tuple:
        adapted = tuple(format_arg(interp, a) for a in args)
    elif t is dict or (issubclass(t, dict) and not is_plain(args)):
        adapted = {k: format_arg(interp, v) for k, v in args.items()}
    else:
        adapted = format_arg(interp, args)
    return interp.guard.run_native(operator.mod, template, adapted)


@special(str.format)
def _str_format(interp, args, kwargs):
    if not args:
        return interp.guard.run_native(str.format, *args, **kwargs)
    adapted = tuple(format_arg(interp, a) for a in args[1:])
    adapted_kwargs = {k: format_arg(interp, v) for k, v in kwargs.items()}
    return interp.guard.run_native(str.format, args[0], *adapted, **adapted_kwargs)


@special(str.format_map)
def _str_format_map(interp, args, kwargs):
    if len(args) != 2 or kwargs or type(args[1]) is not dict:
        return interp.guard.run_native(str.format_map, *args, **kwargs)
    return interp.guard.run_native(str.format_map, args[0],
                             {k: format_arg(interp, v) for k, v in args[1].items()})
