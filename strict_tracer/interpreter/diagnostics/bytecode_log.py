"""The bytecode log's records and filters (STRICT_TRACER_LOG: log_options.py).

With the bytecode log on, one summary line ends each trace: instructions and frames run,
lines written, and what the filters and the limit left out.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ...log_options import LOG, LogOptions
from ...stage_log import counted
from .diagnose import describe_value, frame_info, instruction_info, is_library_file

if TYPE_CHECKING:
    from ..core import Interpreter
    from ..frame import Frame

_STACK_SHOWN = 3
_OPERAND_TEXT = 60


class BytecodeLog:
    """Writes the bytecode log records of one trace, within the filters and the line limit."""

    def __init__(self, interp: "Interpreter", options: LogOptions) -> None:
        self.interp = interp
        self.options = options
        self.lines = 0               # lines written
        self.dropped = 0             # lines not written because of the limit
        self.skipped_frames = 0      # frame runs the filters left out
        self._wanted: dict[int, tuple[Any, bool]] = {}   # id(code) -> (code, logged)
        self._last_line: tuple[Any, int | None] | None = None
        self._guards_seen = 0

    # ------------------------------------------------------------------ filters
    def wants(self, frame: "Frame") -> bool:
        """Whether `frame`'s instructions are logged (decided once per code object)."""
        if not self.options.filtered:
            return True
        code = frame.code
        known = self._wanted.get(id(code))
        if known is None:
            known = self._wanted[id(code)] = (code, self._matches(frame))
        if not known[1]:
            self.skipped_frames += 1
        return known[1]

    def _matches(self, frame: "Frame") -> bool:
        code = frame.code
        if self.options.user_only and is_library_file(code.co_filename):
            return False
        names = self.options.names
        if not names:
            return True
        module = frame.globals.get("__name__", "") if isinstance(frame.globals, dict) else ""
        stem = os.path.splitext(os.path.basename(code.co_filename))[0]
        candidates = {code.co_name, code.co_qualname, module, module.rpartition(".")[2], stem}
        return not names.isdisjoint(candidates)

    # ------------------------------------------------------------------ records
    def emit(self, message: str, *args: Any) -> None:
        limit = self.options.limit
        if limit is not None and self.lines >= limit:
            self.dropped += 1
            return
        self.lines += 1
        LOG.debug(message, *args)

    def _indent(self) -> str:
        return "  " * max(len(self.interp.frames) - 1, 0)

    def enter(self, frame: "Frame") -> None:
        verb = "resume" if frame.ip else "call"
        self.emit("%s-> %s %s (%s:%s)", self._indent(), verb, frame.code.co_qualname,
                  frame.code.co_filename, frame.lineno)

    def exit(self, frame: "Frame") -> None:
        verb = "yields" if frame.yielded else "returns"
        self.emit("%s<- %s %s %s", self._indent(), frame.code.co_name, verb,
                  describe_value(frame.retval, short=True))

    def raised(self, frame: "Frame", exc: BaseException) -> None:
        self.emit("%s<- %s raises %s", self._indent(), frame.code.co_name, type(exc).__name__)

    def caught(self, frame: "Frame", exc: BaseException) -> None:
        self.emit("%s   %s caught by the handler at @%d", self._indent(), type(exc).__name__,
                  frame.current_instr.offset)

    def left(self, frame: "Frame") -> None:
        self._last_line = None

    def instruction(self, frame: "Frame", instr: Any) -> None:
        indent = self._indent()
        lineno = instr.lineno if instr.lineno is not None else frame.lineno
        if self._last_line != (frame, lineno):
            self._last_line = (frame, lineno)
            info = frame_info(frame)
            self.emit("%s%s:%s in %s: %s", indent, info.filename, lineno, info.function,
                      info.source)
        shown = instruction_info(frame.code, instr)
        operand = shown.operand_text()
        if len(operand) > _OPERAND_TEXT:
            operand = operand[:_OPERAND_TEXT - 3] + "..."
        stack = frame.stack
        summary = ", ".join(describe_value(v, short=True) for v in stack[-_STACK_SHOWN:])
        more = "..., " if len(stack) > _STACK_SHOWN else ""
        self.emit("%s  %s:%s @%d %s | stack(%d): [%s%s]", indent, frame.code.co_name, lineno,
                  shown.offset, f"{shown.opname} {operand}".rstrip(), len(stack), more, summary)

    def new_guards(self) -> None:
        state = self.interp.state
        guards = getattr(state.shape_env, "guards", ())
        if len(guards) == self._guards_seen:
            return
        printer = state.symbol_printer
        show = printer(state.shape_env, state.input_symbols) if printer is not None else str
        for guard in guards[self._guards_seen:]:
            kind = getattr(guard, "kind", "guard")
            self.emit("%s  %s added: %s at %s", self._indent(), kind, show(guard.expr),
                      getattr(guard, "provenance", None) or "<unknown location>")
        self._guards_seen = len(guards)

    def summary(self, instructions: int, frame_runs: int) -> None:
        """The one line that ends the log of a trace (written even past the limit)."""
        parts = [f"summary: {counted(instructions, 'instruction')} in "
                 f"{counted(frame_runs, 'frame run')}, {counted(self.lines, 'line')} written"]
        if self.options.filtered:
            parts.append(f"{counted(self.skipped_frames, 'frame run')} filtered out "
                         f"({self.options.describe()})")
        if self.dropped:
            parts.append(f"{counted(self.dropped, 'more line')} not written "
                         f"(limit={self.options.limit})")
        LOG.debug("; ".join(parts))
