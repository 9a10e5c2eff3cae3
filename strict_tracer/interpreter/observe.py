"""The observed run loop: the bytecode log and explain mode.

The interpreter's own loop (core.Interpreter.run_frame) stays free of diagnostics. When the
`strict_tracer.bytecode` logger is enabled at DEBUG (or STRICT_TRACER_LOG=bytecode) or
explain() is running, the interpreter is given an Observer when it is created, and every frame
runs in `Observer.run_frame` instead: it logs each instruction, new guards with their
location, and (explain mode) continues past refusals through `recovery.Recovery`.
The decision is made once per trace, so a disabled log costs nothing per instruction.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from ..errors import GraphBreakError, StrictTracerError
from ..symbolic import DataDependentError
from .diagnose import describe_value, frame_info, instruction_info

if TYPE_CHECKING:
    from .core import Interpreter
    from .frame import Frame

LOG = logging.getLogger("strict_tracer.bytecode")
ENV_VAR = "STRICT_TRACER_LOG"
_STACK_SHOWN = 3
_OPERAND_TEXT = 60


def make_observer(interp: "Interpreter", explain: Any) -> "Observer | None":
    """An Observer when the bytecode log is enabled or explain() runs; otherwise None."""
    configure_from_environment()
    log = LOG.isEnabledFor(logging.DEBUG)
    if explain is None and not log:
        return None
    return Observer(interp, log, explain)


def configure_from_environment() -> None:
    """STRICT_TRACER_LOG=bytecode (comma-separated list) turns the bytecode log on, to stderr."""
    wanted = os.environ.get(ENV_VAR, "")
    if "bytecode" not in (part.strip() for part in wanted.split(",")):
        return
    if not any(getattr(h, "_strict_tracer_env", False) for h in LOG.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
        handler._strict_tracer_env = True
        LOG.addHandler(handler)
    LOG.setLevel(logging.DEBUG)


class Observer:
    """Runs frames with logging and/or explain-mode recovery."""

    def __init__(self, interp: "Interpreter", log: bool, explain: Any) -> None:
        from .recovery import Recovery
        self.interp = interp
        self.log = log
        self.recovery = Recovery(interp, explain) if explain is not None else None
        self._last_line: tuple[Any, int | None] | None = None
        self._guards_seen = 0

    def run_frame(self, frame: "Frame") -> Any:
        interp = self.interp
        interp.push_frame(frame)
        log = self.log
        recovery = self.recovery
        before: list = []
        kwnames = None
        if log:
            self._log_enter(frame)
        try:
            instrs = frame.instrs
            while True:
                instr = instrs[frame.ip]
                frame.ip += 1
                if log:
                    self._log_instruction(frame, instr)
                if recovery is not None:
                    recovery.step()
                    before = frame.stack[:]
                    kwnames = frame.kwnames
                try:
                    if instr.handler(interp, frame, instr):
                        if log:
                            self._log_exit(frame)
                        return frame.retval
                except GraphBreakError as error:
                    if recovery is None:
                        raise
                    recovery.recover(frame, instr, before, error)
                except StrictTracerError:
                    raise
                except DataDependentError as exc:       # as in core.Interpreter.run_frame
                    error = interp.data_dependent(str(exc), exc)
                    if recovery is None:
                        raise error from None
                    recovery.recover(frame, instr, before, error)
                except (Exception, GeneratorExit) as exc:
                    if recovery is not None and recovery.absorb(frame, instr, before, exc, kwnames):
                        continue
                    if not interp.unwind(frame, instr, exc):
                        if recovery is not None:
                            recovery.escaping(exc)
                        if log:
                            LOG.debug("%s<- %s raises %s", self._indent(), frame.code.co_name,
                                      type(exc).__name__)
                        raise
                    if log:
                        LOG.debug("%s   %s caught by the handler at @%d", self._indent(),
                                  type(exc).__name__, frame.current_instr.offset)
                if log:
                    self._log_new_guards()
        finally:
            interp.frames.pop()
            self._last_line = None

    # ------------------------------------------------------------------ log records
    def _indent(self) -> str:
        return "  " * max(len(self.interp.frames) - 1, 0)

    def _log_enter(self, frame: "Frame") -> None:
        verb = "resume" if frame.ip else "call"
        LOG.debug("%s-> %s %s (%s:%s)", self._indent(), verb, frame.code.co_qualname,
                  frame.code.co_filename, frame.lineno)

    def _log_exit(self, frame: "Frame") -> None:
        verb = "yields" if frame.yielded else "returns"
        LOG.debug("%s<- %s %s %s", self._indent(), frame.code.co_name, verb,
                  describe_value(frame.retval, short=True))

    def _log_instruction(self, frame: "Frame", instr: Any) -> None:
        indent = self._indent()
        lineno = instr.lineno if instr.lineno is not None else frame.lineno
        if self._last_line != (frame, lineno):
            self._last_line = (frame, lineno)
            info = frame_info(frame)
            LOG.debug("%s%s:%s in %s: %s", indent, info.filename, lineno, info.function,
                      info.source)
        shown = instruction_info(frame.code, instr)
        operand = shown.operand_text()
        if len(operand) > _OPERAND_TEXT:
            operand = operand[:_OPERAND_TEXT - 3] + "..."
        stack = frame.stack
        summary = ", ".join(describe_value(v, short=True) for v in stack[-_STACK_SHOWN:])
        more = "..., " if len(stack) > _STACK_SHOWN else ""
        LOG.debug("%s  %s:%s @%d %s | stack(%d): [%s%s]", indent, frame.code.co_name, lineno,
                  shown.offset, f"{shown.opname} {operand}".rstrip(), len(stack), more, summary)

    def _log_new_guards(self) -> None:
        state = self.interp.state
        guards = getattr(state.shape_env, "guards", ())
        if len(guards) == self._guards_seen:
            return
        from ..package_symbols import program_names     # (imports torch's export machinery)
        show = program_names(state.shape_env, state.input_symbols)
        for guard in guards[self._guards_seen:]:
            kind = getattr(guard, "kind", "guard")
            LOG.debug("%s  %s added: %s at %s", self._indent(), kind, show(guard.expr),
                      getattr(guard, "provenance", None) or "<unknown location>")
        self._guards_seen = len(guards)
