"""Generators and iterators whose steps run in the interpreter.

These are real Python iterators (native code such as `tuple(gen)` can drive them), but every
step resumes an interpreted frame, so the generator body is never run by CPython itself.
`send`/`throw`/`close` follow genobject.c of the running version (versions.py), including
delegation to the sub-iterator of a suspended `yield from` and PEP 479 (StopIteration escaping
the body becomes RuntimeError).
"""
from __future__ import annotations

import types
import warnings
from typing import Any

from ...context import reentry
from .. import versions
from ..registry import SERVICES
from ..frame import Frame
from .protocols import stands_for


def _normalize_thrown(interp, typ: Any, val: Any, tb: Any) -> BaseException:
    """The exception `gen.throw(typ, val, tb)` raises (genobject.c _gen_throw)."""
    if issubclass(type(typ), type) and issubclass(typ, BaseException):
        if val is None:
            exc = typ()
        elif issubclass(type(val), typ):
            exc = val
        else:
            exc = typ(*val) if issubclass(type(val), tuple) else typ(val)
    elif issubclass(type(typ), BaseException):
        if val is not None:
            raise TypeError("instance exception may not have a separate value")
        exc = typ
    else:
        raise TypeError("exceptions must be classes or instances deriving from BaseException, "
                        f"not {type(typ).__name__}")
    if tb is not None:
        interp.tracebacks.set(exc, tb)     # (the program's tracebacks are stand-ins)
    return exc


@stands_for(types.GeneratorType)
class InterpretedGenerator:
    """A generator object backed by an interpreted frame; to the program, a generator."""

    _strict_tracer_native = True
    __slots__ = ("interp", "frame", "started", "finished", "running", "exc_state", "__weakref__")

    def __init__(self, interp, frame: Frame) -> None:
        self.interp = interp
        self.frame = frame
        self.started = False
        self.finished = False
        self.running = False
        self.exc_state: BaseException | None = None   # the exception its handlers are handling

    @property
    def __name__(self) -> str:
        return self.frame.code.co_name

    @property
    def gi_code(self):
        return self.frame.code

    @property
    def gi_frame(self):
        if self.finished:
            return None
        return SERVICES["frame_view"](self.interp, self.frame)

    @property
    def gi_suspended(self) -> bool:
        return self.started and not self.finished and not self.running

    @property
    def gi_running(self) -> bool:
        return self.running

    @property
    def gi_yieldfrom(self) -> Any:
        return self._yieldfrom()

    def __getattr__(self, name: str) -> Any:
        if name == "__qualname__":      # (a class body cannot define it as a property)
            return self.frame.code.co_qualname
        raise AttributeError(f"'generator' object has no attribute '{name}'")

    def __iter__(self) -> "InterpretedGenerator":
        return self

    @reentry
    def __next__(self) -> Any:
        return self.send(None)

    @reentry
    def send(self, value: Any) -> Any:
        if self.finished:
            raise StopIteration
        if not self.started and value is not None:
            raise TypeError("can't send non-None value to a just-started generator")
        return self._resume(value, None)

    @reentry
    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        if versions.THROW_THREE_ARGS_DEPRECATED and (val is not None or tb is not None):
            warnings.warn("the (type, exc, tb) signature of throw() is deprecated, use the "
                          "single-arg signature instead.", DeprecationWarning, stacklevel=2)
        return self._throw(_normalize_thrown(self.interp, typ, val, tb))

    @reentry
    def close(self) -> Any:
        if self.finished:
            return None
        if not self.started:
            self.finished = True
            return None
        raised: BaseException = GeneratorExit()
        yf = self._yieldfrom()
        if yf is not None:
            try:
                self._close_iter(yf)
            except BaseException as exc:  # noqa: BLE001 - raised into the generator instead
                raised = exc
        try:
            self._resume(None, raised)
        except GeneratorExit:
            return None
        except StopIteration as stop:
            return stop.value if versions.GENERATOR_CLOSE_RETURNS_VALUE else None
        raise RuntimeError("generator ignored GeneratorExit")

    # ------------------------------------------------------------------ internals
    def _yieldfrom(self) -> Any:
        """The sub-iterator of a suspended `yield from` (RESUME 2 follows the YIELD_VALUE)."""
        if not self.started or self.finished or self.running:
            return None
        frame = self.frame
        following = frame.instrs[frame.ip] if frame.ip < len(frame.instrs) else None
        # RESUME's low two bits: 2 after `yield from`/await (3.13 adds a depth flag above).
        if following is None or following.opname != "RESUME" or following.raw_arg & 3 < 2:
            return None
        return frame.stack[-1]

    def _close_iter(self, yf: Any) -> None:
        if type(yf) is InterpretedGenerator:
            yf.close()
            return
        try:
            close = self.interp.load_attr(yf, "close")
        except AttributeError:
            return
        self.interp.call(close, (), {})

    def _throw(self, exc: BaseException) -> Any:
        if self.finished:
            raise exc
        if not self.started:
            self.finished = True
            raise exc
        yf = self._yieldfrom()
        if yf is None:
            return self._resume(None, exc)
        if issubclass(type(exc), GeneratorExit):
            try:
                self._close_iter(yf)
            except BaseException as err:  # noqa: BLE001 - raised into this generator
                return self._resume(None, err)
            return self._resume(None, exc)
        interp = self.interp
        throw = None
        self.running = True
        try:
            if type(yf) is InterpretedGenerator:
                return yf._throw(exc)
            try:
                throw = interp.load_attr(yf, "throw")
            except AttributeError:
                pass
            if throw is not None:
                return interp.call(throw, (type(exc), exc, exc.__traceback__), {})
        except StopIteration as stop:
            outcome: tuple = (stop.value, None, stop)
        except BaseException as err:  # noqa: BLE001 - the sub-iterator failed: raise it here
            outcome = (None, err, err)
        finally:
            self.running = False
        if throw is None and type(yf) is not InterpretedGenerator:
            return self._resume(None, exc)
        if versions.YIELD_FROM_STOP_RAISED_IN_FRAME:
            # CLEANUP_THROW, reached through the exception table, ends the `yield from`.
            return self._resume(None, outcome[2])
        self._leave_yield_from()
        return self._resume(*outcome[:2])

    def _leave_yield_from(self) -> None:
        """Pop the sub-iterator and continue after the `yield from` loop (3.11's genobject.c
        jumps to SEND's target)."""
        frame = self.frame
        frame.stack.pop()
        send = frame.instrs[frame.ip - 2]
        frame.ip = send.arg

    def _resume(self, value: Any, exc: BaseException | None) -> Any:
        if self.running:
            raise ValueError("generator already executing")
        frame = self.frame
        interp = self.interp
        outer_exc = interp.current_exc
        if self.exc_state is not None:
            interp.current_exc = self.exc_state
        self.running = True
        try:
            # The sent value is pushed even when an exception is raised in (gen_send_ex2):
            # the handler of a `yield from` (3.12's CLEANUP_THROW) keeps it.
            frame.stack.append(value)
            if exc is not None:
                # Raise at the suspended instruction (or, leaving a `yield from`, at the
                # instruction before SEND's target), through the frame's exception table.
                raising = frame.instrs[frame.ip - 1]
                interp.propagating = exc
                if not interp.unwind(frame, raising, exc):
                    raise exc
            self.started = True
            frame.yielded = False
            result = interp.run_frame(frame)
        except StopIteration as stop:
            self.finished = True
            error = RuntimeError("generator raised StopIteration")
            error.__cause__ = stop
            error.__context__ = stop
            raise error from stop
        except BaseException:
            self.finished = True
            raise
        finally:
            self.running = False
            own = interp.current_exc
            self.exc_state = own if own is not outer_exc else None
            interp.current_exc = outer_exc
        if frame.yielded:
            return result
        self.finished = True
        raise StopIteration(result) if result is not None else StopIteration

    def __repr__(self) -> str:
        return f"<generator object {self.frame.code.co_qualname} at {id(self):#x}>"


class _GetitemOnly:
    def __getitem__(self, index: int) -> Any:
        raise IndexError(index)


@stands_for(type(iter(_GetitemOnly())))       # CPython's `iterator`
class SequenceIterator:
    """iter() of an object that only has __getitem__ (the old sequence protocol)."""

    _strict_tracer_native = True
    __slots__ = ("interp", "seq", "index")

    def __init__(self, interp, seq: Any) -> None:
        self.interp = interp
        self.seq = seq
        self.index = 0

    def __iter__(self) -> "SequenceIterator":
        return self

    @reentry
    def __next__(self) -> Any:
        if self.seq is None:
            raise StopIteration
        try:
            value = self.interp.subscr(self.seq, self.index)
        except (IndexError, StopIteration):
            self.seq = None
            raise StopIteration from None
        self.index += 1
        return value


@stands_for(type(iter(int, 0)))
class CallableIterator:
    """iter(callable, sentinel)."""

    _strict_tracer_native = True
    __slots__ = ("interp", "fn", "sentinel", "done")

    def __init__(self, interp, fn: Any, sentinel: Any) -> None:
        self.interp = interp
        self.fn = fn
        self.sentinel = sentinel
        self.done = False

    def __iter__(self) -> "CallableIterator":
        return self

    @reentry
    def __next__(self) -> Any:
        if self.done:
            raise StopIteration
        value = self.interp.call(self.fn, (), {})
        if value is self.sentinel or self.interp.truth(self.interp.compare(2, self.sentinel, value)):
            self.done = True
            raise StopIteration
        return value

