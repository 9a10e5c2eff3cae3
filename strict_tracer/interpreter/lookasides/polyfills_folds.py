"""Polyfills for sorting and folds over the program's values: sorted/list.sort with
interpreted keys, min/max (symbolic sizes as Max/Min expressions, 0-d tensors as
torch.maximum/minimum, as Dynamo), sum, any and all through the interpreter's protocols.
"""
from __future__ import annotations

import builtins
from typing import Any

import torch

from ...proxy import SymSize, TensorProxy
from ...symbolic import SymFloat, SymInt, SymValue, sym_max, sym_min
from ..objects.protocols import _MISSING
from ..registry import special
from .adapters import CompareKey, all_plain

_NUMBERS = frozenset({int, float, bool, complex})
_GT, _LT = 4, 0          # COMPARE_OP indices


# ---------------------------------------------------------------- sorting and min/max
def sort_list(interp, items: list, key: Any = None, reverse: Any = False) -> None:
    """list.sort(key=, reverse=) on `items` with the native timsort and interpreted keys."""
    if key is None:
        if all_plain(items):
            items.sort(reverse=reverse)
            return
        keys = items
    else:
        keys = [interp.call(key, (item,), {}) for item in items]
    if not all_plain(keys):
        keys = [CompareKey(interp, k) for k in keys]
    order = interp.guard.run_native(sorted, range(len(items)), key=keys.__getitem__, reverse=reverse)
    items[:] = [items[i] for i in order]


def _sort_kwargs_ok(kwargs: dict) -> bool:
    return not (set(kwargs) - {"key", "reverse"})


@special(builtins.sorted)
def _sorted(interp, args, kwargs):
    if len(args) != 1 or not _sort_kwargs_ok(kwargs):
        return interp.guard.run_native(sorted, *args, **kwargs)
    items = interp.iterate(args[0])
    if items is args[0]:
        items = list(items)
    interp.state.sandbox.mark_fresh(items)
    sort_list(interp, items, kwargs.get("key"), kwargs.get("reverse", False))
    return items


@special(list.sort)
def _list_sort(interp, args, kwargs):
    if len(args) != 1 or not _sort_kwargs_ok(kwargs) or not issubclass(type(args[0]), list):
        return interp.guard.run_native(list.sort, *args, **kwargs)
    interp.state.sandbox.before_mutation(args[0])
    sort_list(interp, args[0], kwargs.get("key"), kwargs.get("reverse", False))


def _symbolic_numbers(values: Any) -> bool:
    """Some symbolic int/float among only ints, floats and symbolic ints/floats."""
    return any(isinstance(v, SymValue) for v in values) and all(
        type(v) in (int, float) or isinstance(v, (SymInt, SymFloat)) for v in values)


def _scalar_tensors(values: Any) -> bool:
    """0-d non-bool tensors and plain numbers, at least one tensor (min(max(t.sum(), 0), 1))."""
    tensors = [v for v in values if type(v) is TensorProxy]
    return bool(tensors) and all(v.meta.shape == () and v.meta.dtype is not torch.bool
                                 for v in tensors) and all(
        type(v) is TensorProxy or type(v) in (int, float) for v in values)


def _is_vector(value: Any) -> bool:
    """A 1-d tensor of static length: min/max over it compare its 0-d elements."""
    return (type(value) is TensorProxy and len(value.meta.shape) == 1
            and type(value.meta.shape[0]) is int and value.meta.shape[0] > 0)


def _fold_scalar_tensors(interp, values: Any, is_max: bool) -> Any:
    """max/min of 0-d tensors and numbers as Dynamo computes it: torch.maximum/minimum and
    clamp (the same value as eager's pick, as a tensor; eager would branch on tensor data)."""
    result = values[0]
    for value in values[1:]:
        if type(result) is not TensorProxy and type(value) is not TensorProxy:
            result = max(result, value) if is_max else min(result, value)
        elif type(result) is TensorProxy and type(value) is TensorProxy:
            result = interp.tensors.op(torch.maximum if is_max else torch.minimum,
                                      (result, value), {})
        else:
            tensor, number = (result, value) if type(result) is TensorProxy else (value, result)
            result = interp.tensors.op(torch.clamp_min if is_max else torch.clamp_max,
                                      (tensor, number), {})
    return result


def _min_max(name: str, native: Any, op: int):
    def handler(interp, args, kwargs):
        if not args or set(kwargs) - {"key", "default"} or (len(args) > 1 and "default" in kwargs):
            return interp.guard.run_native(native, *args, **kwargs)
        key = kwargs.get("key")
        iterable = args if len(args) > 1 else args[0]
        if key is None and type(iterable) in (list, tuple) and all_plain(iterable):
            return interp.guard.run_native(native, *args, **kwargs)
        if key is None and type(iterable) in (list, tuple, SymSize) and _symbolic_numbers(iterable):
            # max(x.shape): a Max/Min expression, as torch.export's sym_max, not a guard
            # per comparison (which would pin the dims' order to the example's).
            fold = sym_max if op == _GT else sym_min
            result = iterable[0]
            for value in iterable[1:]:
                result = fold(result, value)
            return result
        if key is None and _is_vector(iterable):
            iterable = list(interp.iterate(iterable))    # max(t): its elements, as Dynamo
        if key is None and type(iterable) in (list, tuple) and _scalar_tensors(iterable):
            return _fold_scalar_tensors(interp, iterable, op == _GT)
        it = interp.get_iter(iterable)
        best_item = best_key = _MISSING
        while True:
            try:
                item = interp.next_item(it)
            except StopIteration:
                break
            value = item if key is None else interp.call(key, (item,), {})
            if best_key is _MISSING or interp.truth(interp.compare(op, value, best_key)):
                best_item, best_key = item, value
        if best_item is _MISSING:
            if "default" in kwargs:
                return kwargs["default"]
            raise ValueError(f"{name}() arg is an empty sequence")
        return best_item
    return handler


special(builtins.max)(_min_max("max", builtins.max, _GT))
special(builtins.min)(_min_max("min", builtins.min, _LT))


# ---------------------------------------------------------------- folds
@special(builtins.sum)
def _sum(interp, args, kwargs):
    if not 1 <= len(args) <= 2 or set(kwargs) - {"start"} or (len(args) == 2 and kwargs):
        return interp.guard.run_native(sum, *args, **kwargs)
    start = args[1] if len(args) == 2 else kwargs.get("start", 0)
    iterable = args[0]
    if type(start) in (str, bytes, bytearray) or (
            type(start) in _NUMBERS and type(iterable) in (list, tuple)
            and all(type(v) in _NUMBERS for v in iterable)):
        return interp.guard.run_native(sum, iterable, start)
    result = start
    it = interp.get_iter(iterable)
    while True:
        try:
            item = interp.next_item(it)
        except StopIteration:
            return result
        result = interp.binary_op(0, result, item)


def _any_all(native: Any, stop_on: bool):
    def handler(interp, args, kwargs):
        if len(args) != 1 or kwargs:
            return interp.guard.run_native(native, *args, **kwargs)
        iterable = args[0]
        if type(iterable) in (list, tuple) and all_plain(iterable):
            return native(iterable)
        it = interp.get_iter(iterable)
        while True:
            try:
                item = interp.next_item(it)
            except StopIteration:
                return not stop_on
            if interp.truth(item) is stop_on:
                return stop_on
    return handler


special(builtins.any)(_any_all(builtins.any, True))
special(builtins.all)(_any_all(builtins.all, False))
