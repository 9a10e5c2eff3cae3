"""Tracebacks of exceptions raised in interpreted code, as eager Python builds them.

CPython adds a traceback entry for each frame an exception is raised in or propagates
through (not for a bare `raise` / RERAISE of it), newest first. The interpreter's own frames
are what the real `exc.__traceback__` holds, so the program reads ours instead: a chain of
TracebackView objects over the interpreted frames, with the line and instruction offset where
the exception passed (`tb_lineno`, `tb_lasti`, `tb_frame`, `tb_next`).
"""
from __future__ import annotations

import types
from typing import Any

from .. import versions
from ..registry import special
from .protocols import stands_for


@stands_for(types.TracebackType)
class TracebackView:
    """One traceback entry of an interpreted frame; to the program, a traceback object."""

    _strict_tracer_native = True
    __slots__ = ("_interp", "_frame", "tb_lineno", "tb_lasti", "tb_next")

    def __init__(self, interp, frame, lineno: int | None, lasti: int, next_: Any) -> None:
        self._interp = interp
        self._frame = frame
        self.tb_lineno = lineno
        self.tb_lasti = lasti
        self.tb_next = next_

    @property
    def tb_frame(self) -> Any:
        from ..lookasides.builtin_handlers import FrameView
        return FrameView(self._interp, self._frame)

    def __repr__(self) -> str:
        return f"<traceback object at {id(self):#x}>"


class Tracebacks:
    """The program's view of `exc.__traceback__`: the Interpreter's collaborator, told by the
    run loop where exceptions pass and asked by attribute reads and `with` exits."""

    __slots__ = ("_interp", "_entries", "reraising")

    def __init__(self, interp) -> None:
        self._interp = interp           # only for the views' tb_frame
        # id(exc) -> (exc, head TracebackView or None): the program's exc.__traceback__.
        self._entries: dict[int, tuple[BaseException, Any]] = {}
        self.reraising: BaseException | None = None     # a bare raise adds no entry

    def note(self, exc: BaseException, frame, instr, propagating: BaseException | None) -> None:
        """`exc` is raised in, or propagates through, interpreted `frame` at `instr`
        (`propagating`: the exception escaping a callee frame, if any)."""
        if exc is self.reraising:
            self.reraising = None       # a bare raise / RERAISE adds no entry
            return
        lasti = instr.offset
        if exc is propagating and instr.opname == "CALL" and \
                versions.INLINED_CALL_LASTI_AFTER_CACHES and instr.index + 1 < len(frame.instrs):
            # Escaping a Python callee run inline, past the CALL's caches. (Callees reached
            # through natives, e.g. sort keys, would show the CALL; they are not told apart.)
            lasti = frame.instrs[instr.index + 1].offset - 2
        table = self._entries
        known = table.get(id(exc))
        head = known[1] if known is not None and known[0] is exc else None
        table[id(exc)] = (exc, TracebackView(self._interp, frame, frame.lineno, lasti, head))

    def of(self, exc: BaseException) -> Any:
        """What `exc.__traceback__` is to the program."""
        known = self._entries.get(id(exc))
        if known is not None and known[0] is exc:
            return known[1]
        return exc.__traceback__

    def set(self, exc: BaseException, tb: Any) -> None:
        """`exc.__traceback__ = tb` / `exc.with_traceback(tb)` by the program."""
        if type(tb) is TracebackView or tb is None:
            self._entries[id(exc)] = (exc, tb)
            return
        exc.__traceback__ = tb          # a real traceback (or the native's own TypeError)
        self._entries.pop(id(exc), None)


@special(BaseException.with_traceback)
def _with_traceback(interp, args, kwargs):
    if len(args) != 2 or kwargs or not issubclass(type(args[0]), BaseException):
        return BaseException.with_traceback(*args, **kwargs)   # the descriptor's own error
    exc, tb = args
    interp.tracebacks.set(exc, tb)
    return exc
