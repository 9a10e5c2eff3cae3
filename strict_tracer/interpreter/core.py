"""The interpreter: frame stack, run loop, exception unwinding, refusals.

Handlers live in the `ops_*` modules, grouped by opcode family; each is a function
`handler(interp, frame, instr)` that returns True only when the frame returns or yields.
The call policy, attribute protocol and operator protocols live in their own modules and are
reached through methods of `Interpreter` so handlers stay small.
"""
from __future__ import annotations

import linecache
import os
import sys
import types
from typing import Any, Callable

import torch

from ..errors import (Category, GraphBreakError, InstructionInfo, InternalTracerError,
                      StrictTracerError, UserFrame)
from .attributes import AttributesMixin
from .calls import CallsMixin
from .decode import Instr
from .frame import Frame, is_async_code, is_generator_code, make_frame
from .modules import ModulesMixin
from .protocols import ProtocolsMixin
from .tensors import TensorsMixin
from .values import ValuesMixin

Handler = Callable[["Interpreter", Frame, Instr], Any]
HANDLERS: dict[str, Handler] = {}
REFUSED_OPCODES: dict[str, str] = {}      # opname -> why it is refused

_TORCH_DIR = os.path.dirname(torch.__file__)
# Files whose functions torch.export records as single ops (their frames are not shown).
_TORCH_OP_FILES = frozenset(os.path.join(_TORCH_DIR, *parts) for parts in (
    ("nn", "functional.py"), ("functional.py",), ("_tensor.py",), ("_jit_internal.py",),
    ("overrides.py",), ("_VF.py",), ("_ops.py",), ("__init__.py",), ("autograd", "grad_mode.py"),
    ("utils", "_contextlib.py"), ("_utils.py",), ("nn", "modules", "module.py"),
))
_WINDOW = 3          # instructions shown before and after the failing one
_MAX_DEPTH = 400     # interpreted frames


def handler(*opnames: str) -> Callable[[Handler], Handler]:
    """Register a function as the handler of one or more opcodes."""
    def register(fn: Handler) -> Handler:
        for name in opnames:
            if name in HANDLERS:
                raise InternalTracerError(f"two handlers for {name}")
            HANDLERS[name] = fn
        return fn
    return register


def refused(opname: str, why: str) -> None:
    REFUSED_OPCODES[opname] = why


def _unsupported_opcode(interp: "Interpreter", frame: Frame, instr: Instr):
    why = REFUSED_OPCODES.get(instr.opname, "this opcode is not implemented by strict_tracer")
    raise interp.refuse(Category.UNSUPPORTED_BYTECODE, f"{instr.opname}: {why}",
                        hint="rewrite this construct with plain synchronous Python")


def _bind_handlers(frame: Frame) -> None:
    for instr in frame.instrs:
        instr.handler = HANDLERS.get(instr.opname, _unsupported_opcode)


class Interpreter(CallsMixin, ProtocolsMixin, AttributesMixin, TensorsMixin, ModulesMixin,
                  ValuesMixin):
    """Runs Python functions bytecode by bytecode against a TraceState."""

    def __init__(self, state) -> None:
        self.state = state
        self.frames: list[Frame] = []
        self.current_exc: BaseException | None = None
        state.graph.node_metadata = self.node_metadata

    # ------------------------------------------------------------------ node metadata
    def node_metadata(self) -> dict[str, Any]:
        """Metadata torch.export records on every node: source stack and module stack."""
        parts = []
        for frame in self.frames:
            filename = frame.code.co_filename
            if filename in _TORCH_OP_FILES:
                continue   # torch functions are single ops in torch.export's stack traces
            lineno = frame.lineno
            source = linecache.getline(filename, lineno).strip() if lineno else ""
            parts.append(f'  File "{filename}", line {lineno}, in {frame.code.co_name}\n    {source}\n')
        return {"stack_trace": "".join(parts), "nn_module_stack": self.state.nn_module_stack()}

    # ------------------------------------------------------------------ running frames
    def inline(self, func: types.FunctionType, args: tuple, kwargs: dict) -> Any:
        """Call a Python function by interpreting its bytecode."""
        code = func.__code__
        if is_async_code(code):
            raise self.refuse(Category.UNSUPPORTED_PYTHON,
                              f"coroutine/async function {func.__qualname__} is not supported",
                              hint="call a synchronous function from forward()")
        frame = make_frame(func, args, kwargs)
        if is_generator_code(code):
            from .generators import InterpretedGenerator
            return InterpretedGenerator(self, frame)
        return self.run_frame(frame)

    def run_frame(self, frame: Frame) -> Any:
        """Run `frame` until it returns (or yields, for generator frames)."""
        if frame.instrs[0].handler is None:
            _bind_handlers(frame)
        if len(self.frames) >= _MAX_DEPTH:
            raise RecursionError("maximum recursion depth exceeded in interpreted code")
        self.frames.append(frame)
        try:
            instrs = frame.instrs
            while True:
                instr = instrs[frame.ip]
                frame.ip += 1
                try:
                    if instr.handler(self, frame, instr):
                        return frame.retval
                except StrictTracerError:
                    raise
                except (Exception, GeneratorExit) as exc:
                    if not self.unwind(frame, instr, exc):
                        raise
        finally:
            self.frames.pop()

    def unwind(self, frame: Frame, instr: Instr, exc: BaseException) -> bool:
        """Jump to the exception handler covering `instr`, if there is one."""
        target = frame.decoded.handlers[instr.index]
        if target is None:
            _attach_location(exc, frame)
            return False
        del frame.stack[target.depth:]
        if target.push_lasti:
            frame.stack.append(instr.index)
        frame.stack.append(exc)
        frame.ip = target.target
        return True

    # ------------------------------------------------------------------ refusals
    def user_frames(self) -> list[UserFrame]:
        """The interpreted call stack, innermost first."""
        frames = []
        for frame in reversed(self.frames):
            filename = frame.code.co_filename
            lineno = frame.lineno
            source = linecache.getline(filename, lineno).strip() if lineno else ""
            frames.append(UserFrame(filename, lineno, frame.code.co_name, source,
                                    is_library_file(filename)))
        return frames

    def refuse(self, category: str, reason: str, hint: str = "",
               operands: tuple = ()) -> GraphBreakError:
        """Build (not raise) a GraphBreakError located at the current instruction."""
        frame = self.frames[-1] if self.frames else None
        instruction = None
        window: list[tuple[bool, InstructionInfo]] = []
        stack: list[str] = []
        if frame is not None:
            current = frame.current_instr
            instruction = InstructionInfo(current.offset, current.opname, current.argrepr)
            lo = max(0, current.index - _WINDOW)
            hi = min(len(frame.instrs), current.index + _WINDOW + 1)
            for other in frame.instrs[lo:hi]:
                window.append((other is current,
                               InstructionInfo(other.offset, other.opname, other.argrepr)))
            stack = [describe_value(v) for v in list(frame.stack) + list(operands)]
        return GraphBreakError(category, reason, self.user_frames(), instruction, window, stack, hint)


def describe_value(value: Any) -> str:
    describe = getattr(type(value), "describe", None)
    if describe is not None and callable(describe):
        try:
            return value.describe()
        except Exception:  # a user object's own describe() — fall back to repr
            pass
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


_LIBRARY_MARKERS = ("/site-packages/", "/dist-packages/", f"/lib/python{sys.version_info[0]}.{sys.version_info[1]}/")


def is_library_file(filename: str) -> bool:
    return any(marker in filename for marker in _LIBRARY_MARKERS) or filename.startswith("<frozen")


def _attach_location(exc: BaseException, frame: Frame) -> None:
    """Add the interpreted frame to an exception escaping it (like a traceback entry)."""
    notes = getattr(exc, "__notes__", None)
    lineno = frame.lineno
    line = linecache.getline(frame.code.co_filename, lineno).strip() if lineno else ""
    note = f'  (strict_tracer) File "{frame.code.co_filename}", line {lineno}, in {frame.code.co_name}: {line}'
    if notes is None or note not in notes:
        try:
            exc.add_note(note)
        except Exception:  # exceptions that refuse notes (rare C types)
            pass


# Handler families and builtin handlers register themselves on import.
from . import builtin_handlers, ops_build, ops_call, ops_flow, ops_stack, torch_handlers  # noqa: E402,F401
