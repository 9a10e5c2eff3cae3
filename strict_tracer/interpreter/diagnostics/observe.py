"""The observed run loop: the bytecode log, progress records and explain mode.

The interpreter's own loop (core.Interpreter.run_frame) stays free of diagnostics. When the
`strict_tracer.bytecode` logger is enabled at DEBUG (or STRICT_TRACER_LOG=bytecode), the
`strict_tracer` logger at INFO (stage and progress records), or explain() is running, the
interpreter is given an Observer when it is created, and every frame runs in
`Observer.run_frame` instead: it counts instructions (progress records every few seconds, the
instruction count of the trace's INFO record), writes the bytecode log (bytecode_log.py), and
(explain mode) continues past refusals through `recovery.Recovery`. The decision is made once
per trace, so with all of them off the plain loop runs and diagnostics cost nothing.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ...errors import GraphBreakError, StrictTracerError
from ...stage_log import Progress, info_enabled
from ...symbolic import DataDependentError
from ...log_options import LOG, configure_from_environment
from .bytecode_log import BytecodeLog

if TYPE_CHECKING:
    from ..core import Interpreter
    from ..frame import Frame

# Instructions between two progress checks (a clock read): cheap, and frequent enough that a
# check is never more than a few milliseconds late.
CHECK_EVERY = 256


def make_observer(interp: "Interpreter", explain: Any) -> "Observer | None":
    """An Observer when the bytecode log or INFO records are on or explain() runs; else None."""
    options = configure_from_environment()
    log = BytecodeLog(interp, options) if LOG.isEnabledFor(logging.DEBUG) else None
    progress = Progress(interp) if info_enabled() else None
    if explain is None and log is None and progress is None:
        return None
    return Observer(interp, log, explain, progress)


class Observer:
    """Runs frames counting instructions, with logging and/or explain-mode recovery."""

    def __init__(self, interp: "Interpreter", log: BytecodeLog | None, explain: Any,
                 progress: Progress | None = None) -> None:
        from .recovery import Recovery
        self.interp = interp
        self.log = log
        self.progress = progress
        self.recovery = Recovery(interp, explain) if explain is not None else None
        self.instructions = 0          # run so far (frames still running add theirs at exit)
        self.frame_runs = 0
        self._next_check = CHECK_EVERY

    def finish(self) -> None:
        """The trace ended: the bytecode log's summary line."""
        if self.log is not None:
            self.log.summary(self.instructions, self.frame_runs)

    def _count(self, n: int) -> None:
        self.instructions += n
        if self.instructions >= self._next_check:
            self._next_check = self.instructions + CHECK_EVERY
            if self.progress is not None:
                self.progress.check(self.instructions)

    def _refused(self, frame: "Frame", instr: Any, before: list, error: GraphBreakError) -> None:
        """A refusal passes through this frame: locate it if nobody did; explain() recovers."""
        if not error.located:
            self.interp.locate(error)
        if self.recovery is None:
            raise error
        self.recovery.recover(frame, instr, before, error)

    def run_frame(self, frame: "Frame") -> Any:
        interp = self.interp
        interp.push_frame(frame)
        self.frame_runs += 1
        log = self.log if self.log is not None and self.log.wants(frame) else None
        recovery = self.recovery
        before: list = []
        kwnames = None
        left = CHECK_EVERY
        if log is not None:
            log.enter(frame)
        try:
            instrs = frame.instrs
            while True:
                instr = instrs[frame.ip]
                frame.ip += 1
                left -= 1
                if not left:
                    self._count(CHECK_EVERY)
                    left = CHECK_EVERY
                if log is not None:
                    log.instruction(frame, instr)
                if recovery is not None:
                    recovery.step()
                    before = frame.stack[:]
                    kwnames = frame.kwnames
                try:
                    if instr.handler(interp, frame, instr):
                        if log is not None:
                            log.exit(frame)
                        return frame.retval
                except GraphBreakError as error:
                    self._refused(frame, instr, before, error)
                except StrictTracerError:
                    raise
                except DataDependentError as exc:       # as in core.Interpreter.run_frame
                    error = interp.tensors.data_dependent(str(exc), exc)
                    if recovery is None:
                        raise error from None
                    recovery.recover(frame, instr, before, error)
                except (Exception, GeneratorExit) as exc:
                    if recovery is not None and recovery.absorb(frame, instr, before, exc, kwnames):
                        continue
                    if not interp.unwind(frame, instr, exc):
                        if recovery is not None:
                            recovery.escaping(exc)
                        if log is not None:
                            log.raised(frame, exc)
                        raise
                    if log is not None:
                        log.caught(frame, exc)
                if log is not None:
                    log.new_guards()
        finally:
            interp.frames.pop()
            self._count(CHECK_EVERY - left)
            if log is not None:
                log.left(frame)

