"""`class` statements inside traced code: __build_class__ with the body interpreted."""
from __future__ import annotations

import types
from typing import Any

from .frame import Frame, builtins_of, bind_arguments


class ClassBuilder:
    """What LOAD_BUILD_CLASS pushes: builtins.__build_class__, interpreting the class body."""

    _strict_tracer_native = True
    __slots__ = ("interp",)

    def __init__(self, interp) -> None:
        self.interp = interp

    def __call__(self, func: types.FunctionType, name: str, *bases: Any, metaclass: Any = None,
                 **kwds: Any) -> type:
        interp = self.interp
        resolved = _resolve_bases(bases)
        if metaclass is None:
            metaclass = type(resolved[0]) if resolved else type
        if issubclass(type(metaclass), type):
            metaclass = _most_derived_metaclass(metaclass, resolved)
        prepare = getattr(metaclass, "__prepare__", None)
        namespace = prepare(name, resolved, **kwds) if prepare is not None else {}
        interp.mark_fresh(namespace)

        code = func.__code__
        localsplus = bind_arguments(func, code, (), {})
        frame = Frame(func, code, func.__globals__, builtins_of(func.__globals__), localsplus)
        frame.locals_dict = namespace
        cell = interp.run_frame(frame)
        if resolved is not bases:
            namespace["__orig_bases__"] = bases
        cls = interp.call(metaclass, (name, resolved, namespace), kwds)
        if issubclass(type(cell), types.CellType):
            cell.cell_contents = cls
        interp.mark_fresh(cls)
        return cls


def _resolve_bases(bases: tuple) -> tuple:
    resolved: list[Any] = []
    changed = False
    for base in bases:
        if issubclass(type(base), type):
            resolved.append(base)
            continue
        entries = getattr(base, "__mro_entries__", None)
        if entries is None:
            resolved.append(base)
            continue
        new = entries(bases)
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
