"""The active trace: proxies and symbolic values reached from native code find it here."""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import TYPE_CHECKING, Iterator

from .errors import InternalTracerError

if TYPE_CHECKING:
    from .interpreter.core import Interpreter

_active: ContextVar["Interpreter | None"] = ContextVar("strict_tracer_active", default=None)


def current() -> "Interpreter":
    interp = _active.get()
    if interp is None:
        raise InternalTracerError(
            "a strict_tracer proxy was used outside of an active trace (it escaped the trace)")
    return interp


def maybe_current() -> "Interpreter | None":
    return _active.get()


@contextlib.contextmanager
def activate(interp: "Interpreter") -> Iterator[None]:
    token = _active.set(interp)
    try:
        yield
    finally:
        _active.reset(token)
