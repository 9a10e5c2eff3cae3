"""`object.__reduce_ex__` (what `copy.copy`, `copy.deepcopy` and pickle call on plain
objects) with the object's Python methods interpreted.

The C implementation looks up `__getstate__` and `__getnewargs_ex__` on the object, which runs
a class's Python `__getattribute__` (config objects define one) outside the interpreter. This
replays typeobject.c's `reduce_newobj` for protocols >= 2 through the interpreter's attribute
protocol; protocols 0 and 1 (copyreg._reduce_ex) are Python code and are interpreted as is.
"""
from __future__ import annotations

import copyreg

from ..registry import special
from .protocols import _MISSING, lookup_special

_OBJECT_REDUCE = object.__dict__["__reduce__"]
_OBJECT_REDUCE_EX = object.__dict__["__reduce_ex__"]


@special(_OBJECT_REDUCE_EX)
def _reduce_ex(interp, args, kwargs):
    if len(args) != 2 or kwargs:
        return interp.guard.run_native(_OBJECT_REDUCE_EX, *args, **kwargs)
    obj, protocol = args
    reduce = lookup_special(type(obj), "__reduce__")
    if reduce is not _OBJECT_REDUCE and reduce is not _MISSING:
        return interp.call(interp.load_attr(obj, "__reduce__"), (), {})
    if protocol < 2:
        return interp.call(copyreg._reduce_ex, (obj, protocol), {})
    return _reduce_newobj(interp, obj)


def _reduce_newobj(interp, obj):
    cls = type(obj)
    if lookup_special(cls, "__new__") is _MISSING:
        raise TypeError(f"cannot pickle {cls.__name__!r} object")
    args, kwargs = _new_arguments(interp, obj)
    if kwargs:
        creator, new_args = copyreg.__newobj_ex__, (cls, args, kwargs)
    else:
        creator, new_args = copyreg.__newobj__, (cls, *(args or ()))
    state = interp.call(interp.load_attr(obj, "__getstate__"), (), {})
    list_items = interp.call(iter, (obj,), {}) if isinstance(obj, list) else None
    dict_items = interp.call(iter, (interp.call(interp.load_attr(obj, "items"), (), {}),), {}) \
        if isinstance(obj, dict) else None
    return creator, new_args, state, list_items, dict_items


@special(object.__getstate__)
def _getstate(interp, args, kwargs):
    """object.__getstate__: the instance dict (None when empty), with the __slots__ values
    read through the interpreter's attribute protocol."""
    if len(args) != 1 or kwargs:
        return interp.guard.run_native(object.__getstate__, *args, **kwargs)
    obj = args[0]
    try:
        state = object.__getattribute__(obj, "__dict__") or None
    except AttributeError:
        state = None
    names = interp.call(copyreg._slotnames, (type(obj),), {})
    if not names:
        return state
    slots = {}
    for name in names:
        try:
            slots[name] = interp.load_attr(obj, name)
        except AttributeError:
            pass
    return state, slots


def _new_arguments(interp, obj) -> tuple:
    """(args, kwargs) from __getnewargs_ex__ / __getnewargs__, looked up on the type."""
    getnewargs_ex = lookup_special(type(obj), "__getnewargs_ex__")
    if getnewargs_ex is not _MISSING:
        result = interp.call_unbound(getnewargs_ex, obj, ())
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError("__getnewargs_ex__ should return a tuple of length 2")
        return tuple(result[0]), dict(result[1])
    getnewargs = lookup_special(type(obj), "__getnewargs__")
    if getnewargs is not _MISSING:
        result = interp.call_unbound(getnewargs, obj, ())
        if not isinstance(result, tuple):
            raise TypeError("__getnewargs__ should return a tuple")
        return result, None
    return None, None
