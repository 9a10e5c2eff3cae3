"""`class` statements inside traced code: __build_class__ with the body interpreted."""
from __future__ import annotations

import types
from typing import Any

from ..frame import Frame, bind_arguments, builtins_of
from .protocols import _MISSING, lookup_special


class ClassBuilder:
    """What LOAD_BUILD_CLASS pushes: builtins.__build_class__, interpreting the class body."""

    _strict_tracer_native = True
    __slots__ = ("interp",)

    def __init__(self, interp) -> None:
        self.interp = interp

    def __call__(self, func: types.FunctionType, name: str, *bases: Any, metaclass: Any = None,
                 **kwds: Any) -> type:
        interp = self.interp
        resolved = _resolve_bases(interp, bases)
        if metaclass is None:
            metaclass = type(resolved[0]) if resolved else type
        if issubclass(type(metaclass), type):
            metaclass = _most_derived_metaclass(metaclass, resolved)
        try:
            prepare = interp.load_attr(metaclass, "__prepare__")
        except AttributeError:
            namespace = {}
        else:
            namespace = interp.call(prepare, (name, resolved), kwds)
        interp.state.sandbox.mark_fresh(namespace)

        code = func.__code__
        localsplus = bind_arguments(func, code, (), {})
        frame = Frame(func, code, func.__globals__, builtins_of(func.__globals__), localsplus)
        frame.locals_dict = namespace
        cell = interp.run_frame(frame)
        if resolved is not bases:
            interp.store_subscr(namespace, "__orig_bases__", bases)
        cls = interp.call(metaclass, (name, resolved, namespace), kwds)
        if issubclass(type(cell), types.CellType):
            cell.cell_contents = cls
        interp.state.sandbox.mark_fresh(cls)
        return cls


def create_class(interp, meta: type, name: str, bases: tuple, namespace: Any, kwds: dict) -> type:
    """type.__new__(meta, name, bases, namespace, **kwds) with the Python hooks it runs
    interpreted: `__set_name__` of the namespace's descriptors is called by us (their slots
    hold placeholders while the native builds the class); a Python `__init_subclass__` of a
    base would run inside the native and is refused by the native guard."""
    winner = _most_derived_metaclass(meta, bases) if bases else meta
    if winner is not meta and lookup_special(winner, "__new__") is not type.__dict__["__new__"]:
        return interp.call(winner, (name, bases, namespace), kwds)
    items = interp.mapping_items(namespace)
    hooks = []
    for key, value in items:
        set_name = lookup_special(type(value), "__set_name__")
        if set_name is not _MISSING and type(set_name) is types.FunctionType:
            hooks.append((key, value, set_name))
    if hooks:
        namespace = dict(items)
        for key, _, _ in hooks:
            namespace[key] = None
    masked = _python_init_subclass_owners(bases)
    for owner in masked:      # the native calls a no-op instead; we call the real one below
        type.__setattr__(owner, "__init_subclass__", _NO_INIT_SUBCLASS)
    try:
        cls = interp.guard.run_native(type.__new__, winner, name, bases, namespace, **kwds)
    finally:
        for owner, original in masked.items():
            type.__setattr__(owner, "__init_subclass__", original)
    interp.state.sandbox.mark_fresh(cls)
    for key, value, _ in hooks:
        type.__setattr__(cls, key, value)
    for key, value, set_name in hooks:
        interp.inline(set_name, (value, cls, key), {})
    if masked:
        init_subclass = interp.load_attr(super(cls, cls), "__init_subclass__")
        interp.call(init_subclass, (), kwds)
    return cls


def _ignore_init_subclass(cls, **kwargs):
    return None


_NO_INIT_SUBCLASS = classmethod(_ignore_init_subclass)


def _python_init_subclass_owners(bases: tuple) -> dict[type, Any]:
    """Classes in the bases' MROs whose own __init_subclass__ is Python code."""
    owners: dict[type, Any] = {}
    for base in bases:
        for klass in getattr(base, "__mro__", ()):
            raw = klass.__dict__.get("__init_subclass__")
            func = getattr(raw, "__func__", raw)
            if type(func) is types.FunctionType and klass not in owners:
                owners[klass] = raw
    return owners


def _resolve_bases(interp, bases: tuple) -> tuple:
    resolved: list[Any] = []
    changed = False
    for base in bases:
        if issubclass(type(base), type):
            resolved.append(base)
            continue
        try:
            entries = interp.load_attr(base, "__mro_entries__")
        except AttributeError:
            resolved.append(base)
            continue
        new = interp.call(entries, (bases,), {})
        if not issubclass(type(new), tuple):
            raise TypeError("__mro_entries__ must return a tuple")
        resolved.extend(new)
        changed = True
    return tuple(resolved) if changed else bases


def _most_derived_metaclass(metaclass: type, bases: tuple) -> type:
    winner = metaclass
    for base in bases:
        base_meta = type(base)
        if issubclass(winner, base_meta):
            continue
        if issubclass(base_meta, winner):
            winner = base_meta
            continue
        raise TypeError("metaclass conflict: the metaclass of a derived class must be a "
                        "(non-strict) subclass of the metaclasses of all its bases")
    return winner
