"""The interpreter's registration tables: opcode handlers, refused opcodes, and handlers for
particular callables (lookasides: interpreter-aware builtins, polyfills, escape hatches, the
control-flow operators of hops/).

This module imports nothing that registers: the modules that register import it, and the
package (interpreter/__init__.py for handlers and lookasides, api.py for hops/) imports them.
So the run loop (core.py) reads the tables without importing the code it dispatches to.
"""
from __future__ import annotations

from typing import Any, Callable

from ..errors import InternalTracerError
from . import versions

Handler = Callable[..., Any]              # handler(interp, frame, instr) -> True to return
HANDLERS: dict[str, Handler] = {}         # dispatch key (decode.Instr.key) -> handler
REFUSED_OPCODES: dict[str, str] = {}      # opname or dispatch key -> why it is refused

SpecialHandler = Callable[[Any, tuple, dict], Any]
# Handlers for native callables: handler(interp, args, kwargs).
SPECIAL: dict[Any, SpecialHandler] = {}
# Handlers that replace the interpretation of particular Python functions (library entry
# points with special meaning for export, e.g. autograd.Function.apply): handler(interp, args,
# kwargs) with a bound method's self first.
PYTHON_SPECIAL: dict[Any, SpecialHandler] = {}
# Handlers for calls of *instances* of a callable type (itemgetter(...)(x), lru_cache wrappers).
CALL_SPECIAL: dict[type, Callable[[Any, Any, tuple, dict], Any]] = {}


def handler(*opnames: str, since: tuple[int, int] | None = None,
            until: tuple[int, int] | None = None) -> Callable[[Handler], Handler]:
    """Register a function as the handler of one or more opcodes (dispatch keys), on the
    Python versions in [since, until] (inclusive; None = open)."""
    def register(fn: Handler) -> Handler:
        if not versions.active(since, until):
            return fn
        for name in opnames:
            if name in HANDLERS:
                raise InternalTracerError(f"two handlers for {name}")
            HANDLERS[name] = fn
        return fn
    return register


def refused(opname: str, why: str, since: tuple[int, int] | None = None,
            until: tuple[int, int] | None = None) -> None:
    if versions.active(since, until):
        REFUSED_OPCODES[opname] = why


def special(*fns: Any) -> Callable[[SpecialHandler], SpecialHandler]:
    """Register `handler(interp, args, kwargs)` for native callables `fns`."""
    def register(fn: SpecialHandler) -> SpecialHandler:
        for native in fns:
            SPECIAL[native] = fn
        return fn
    return register


# Functions of a higher room the object model needs (a service each, looked up when used):
# "percent_format" (str % args, lookasides/polyfills.py), "index_of" (operator.index with a
# Python __index__, polyfills.py), "frame_view" (a frame object for an interpreted frame,
# lookasides/builtin_handlers.py). Registered by the module that defines each.
SERVICES: dict[str, Callable[..., Any]] = {}


def provides(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function (or class) as the service `name`."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        SERVICES[name] = fn
        return fn
    return register
