"""The active trace: proxies and symbolic values reached from native code find it here."""
from __future__ import annotations

import contextlib
import functools
import sys
import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .errors import GraphBreakError, InternalTracerError

if TYPE_CHECKING:
    from .interpreter.core import Interpreter

_active: ContextVar["Interpreter | None"] = ContextVar("strict_tracer_active", default=None)


# One trace at a time per process: the sandbox writes through to real objects until the
# trace ends, so two traces sharing a module or a global would see each other's writes, and
# the recursion limit is process-wide. Exports in several threads therefore queue here
# (README "Reliability and limits"); the GIL would serialize most of their work anyway.
export_lock = threading.RLock()


def current() -> "Interpreter":
    interp = _active.get()
    if interp is None:
        raise InternalTracerError(
            "a strict_tracer proxy was used outside of an active trace (it escaped the trace)")
    return interp


def maybe_current() -> "Interpreter | None":
    return _active.get()


# Nested interpreted frames, as CPython's default recursion limit. Interpreted calls use
# Python frames but next to no C stack (3.11 runs Python-to-Python calls in one C frame);
# natives calling back (map, sorted keys, __eq__) use a few KB of C stack per level, so even
# a recursion entirely through natives stays within a 8 MB stack (README "Limits").
MAX_DEPTH = 1000
# Each interpreted frame costs a handful of Python frames (run loop, handler, call policy),
# so tracing needs more Python stack than the traced program would.
_PYTHON_FRAMES_PER_INTERPRETED_FRAME = 30


@contextlib.contextmanager
def activate(interp: "Interpreter") -> Iterator[None]:
    limit = sys.getrecursionlimit()
    token = None
    try:      # (set inside the try: an interrupt between the two steps still undoes them)
        token = _active.set(interp)
        sys.setrecursionlimit(max(limit, MAX_DEPTH * _PYTHON_FRAMES_PER_INTERPRETED_FRAME))
        yield
    except GraphBreakError as error:
        if not error.located:   # raised outside every interpreted frame (e.g. after forward())
            interp.locate(error)
        raise
    finally:
        pending: BaseException | None = None
        while True:     # undone even when an interrupt arrives meanwhile (re-raised after)
            try:
                sys.setrecursionlimit(limit)
                if token is not None:
                    _active.reset(token)
                    token = None
                break
            except BaseException as exc:  # noqa: BLE001
                pending = pending or exc
        if pending is not None:
            raise pending


def reentry(fn: Callable) -> Callable:
    """Mark `fn` as a point where native code calls back into the trace (a proxy's operator,
    an interpreted iterator's __next__, ...). While it runs, the native-call guard
    (interpreter/calls/guard.py) is suspended: the work it does is the tracer's own."""
    @functools.wraps(fn)
    def entry(*args: Any, **kwargs: Any) -> Any:
        hook = sys.getprofile()
        if hook is None or not getattr(hook, "_strict_tracer_guard", False):
            return fn(*args, **kwargs)
        sys.setprofile(None)
        try:
            return fn(*args, **kwargs)
        finally:
            sys.setprofile(hook)
    return entry
