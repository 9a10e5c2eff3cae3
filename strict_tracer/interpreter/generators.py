"""Generators and iterators whose steps run in the interpreter.

These are real Python iterators (native code such as `tuple(gen)` can drive them), but every
step resumes an interpreted frame, so the generator body is never run by CPython itself.
"""
from __future__ import annotations

from typing import Any

from .frame import Frame


class InterpretedGenerator:
    """A generator object backed by an interpreted frame."""

    _strict_tracer_native = True
    __slots__ = ("interp", "frame", "started", "finished", "running", "__weakref__")

    def __init__(self, interp, frame: Frame) -> None:
        self.interp = interp
        self.frame = frame
        self.started = False
        self.finished = False
        self.running = False

    @property
    def __name__(self) -> str:
        return self.frame.code.co_name

    @property
    def gi_code(self):
        return self.frame.code

    def __iter__(self) -> "InterpretedGenerator":
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, value: Any) -> Any:
        if self.finished:
            raise StopIteration
        if not self.started and value is not None:
            raise TypeError("can't send non-None value to a just-started generator")
        return self._resume(value, None)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        exc = typ if isinstance(typ, BaseException) else (typ() if val is None else typ(val))
        if self.finished or not self.started:
            self.finished = True
            raise exc
        return self._resume(None, exc)

    def close(self) -> None:
        if self.finished or not self.started:
            self.finished = True
            return
        try:
            self._resume(None, GeneratorExit())
        except (GeneratorExit, StopIteration):
            self.finished = True
            return
        raise RuntimeError("generator ignored GeneratorExit")

    def _resume(self, value: Any, exc: BaseException | None) -> Any:
        if self.running:
            raise ValueError("generator already executing")
        frame = self.frame
        self.running = True
        try:
            if exc is not None:
                # Raise at the suspended YIELD_VALUE, through the frame's exception table.
                if not self.interp.unwind(frame, frame.current_instr, exc):
                    raise exc
            else:
                frame.stack.append(value)
            self.started = True
            frame.yielded = False
            result = self.interp.run_frame(frame)
        except BaseException:
            self.finished = True
            raise
        finally:
            self.running = False
        if frame.yielded:
            return result
        self.finished = True
        raise StopIteration(result) if result is not None else StopIteration

    def __repr__(self) -> str:
        return f"<interpreted generator {self.frame.code.co_qualname}>"


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

    def __next__(self) -> Any:
        try:
            value = self.interp.subscr(self.seq, self.index)
        except (IndexError, StopIteration):
            raise StopIteration from None
        self.index += 1
        return value


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

    def __next__(self) -> Any:
        if self.done:
            raise StopIteration
        value = self.interp.call(self.fn, (), {})
        if value == self.sentinel:
            self.done = True
            raise StopIteration
        return value
