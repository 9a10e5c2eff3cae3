"""Where the interpreter is, in terms a user can read: frames, bytecode, abstract values.

Used when an error is built (never on the hot path): `locate` fills a GraphBreakError's
location, `current_location` is the shape environment's provenance callback (where a guard
came from), `describe_value` renders stack values for messages and the bytecode log.
"""
from __future__ import annotations

import dis
import linecache
import os
import types
from typing import TYPE_CHECKING, Any

import torch

from ...errors import GraphBreakError, InstructionInfo, Location, UserFrame
from .. import versions
from ..frame import Frame
from ..objects.protocols import display_name

if TYPE_CHECKING:
    from ..core import Interpreter

WINDOW = 3            # instructions shown before and after the failing one
_MAX_VALUE_TEXT = 80

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_LIBRARY_MARKERS = ("/site-packages/", "/dist-packages/",
                    f"/lib/python{versions.PY[0]}.{versions.PY[1]}/")


def is_library_file(filename: str) -> bool:
    """Library code (installed packages, the standard library, strict_tracer's own polyfills)."""
    return (any(marker in filename for marker in _LIBRARY_MARKERS)
            or filename.startswith("<frozen") or filename.startswith(_PACKAGE_DIR))


# ---------------------------------------------------------------------- frames
def frame_info(frame: Frame) -> UserFrame:
    filename = frame.code.co_filename
    lineno = frame.lineno
    source = linecache.getline(filename, lineno).strip() if lineno else ""
    return UserFrame(filename, lineno, frame.code.co_name, source, is_library_file(filename))


def user_frames(frames: list[Frame]) -> list[UserFrame]:
    """The interpreted call stack, innermost first."""
    return [frame_info(frame) for frame in reversed(frames)]


# ---------------------------------------------------------------------- bytecode
# Keyed by identity like decode's cache (equal code objects of different files differ in
# their nested code constants); the entry keeps the code object alive.
_dis_cache: dict[int, tuple[types.CodeType, dict[int, dis.Instruction]]] = {}


def library_entry(frames: list[Frame]) -> str | None:
    """The library function the user's code called, when the innermost frame is library code
    (`torch.autograd.grad` for a refusal deep inside it), else None."""
    if not frames or not is_library_file(frames[-1].code.co_filename):
        return None
    entry = None
    for frame in reversed(frames):
        if not is_library_file(frame.code.co_filename):
            break
        entry = frame
    if entry is None or entry is frames[0]:
        return None
    fn = entry.function
    module = getattr(fn, "__module__", None) or entry.globals.get("__name__", "")
    return f"{module}.{entry.code.co_qualname}" if module else entry.code.co_qualname


def _dis_by_offset(code: types.CodeType) -> dict[int, dis.Instruction]:
    entry = _dis_cache.get(id(code))
    if entry is None:
        entry = _dis_cache[id(code)] = (code, {i.offset: i for i in dis.get_instructions(code)})
    return entry[1]


def instruction_info(code: types.CodeType, instr: Any) -> InstructionInfo:
    """An instruction as `dis` prints it: names unquoted, jump targets as offsets."""
    shown = _dis_by_offset(code).get(instr.offset)
    if shown is None:
        return InstructionInfo(instr.offset, instr.opname, getattr(instr, "argrepr", ""))
    argrepr = shown.argrepr
    target = getattr(shown, "jump_target", None)
    if target is not None:        # 3.13's dis names jump targets by labels ("to L2")
        argrepr = f"to {target}"
    return InstructionInfo(shown.offset, shown.opname, argrepr, shown.arg)


def bytecode_window(frame: Frame, radius: int = WINDOW) -> list[tuple[bool, InstructionInfo]]:
    current = frame.current_instr
    lo = max(0, current.index - radius)
    hi = min(len(frame.instrs), current.index + radius + 1)
    return [(other is current, instruction_info(frame.code, other)) for other in frame.instrs[lo:hi]]


# ---------------------------------------------------------------------- locations
def locate(interp: "Interpreter", error: GraphBreakError) -> None:
    """Fill `error`'s frames, instruction, bytecode window and stack from the interpreter.

    After forward() has returned (outputs, buffer write-back), the location is the outermost
    frame's last instruction: its RETURN_VALUE.
    """
    frames = interp.frames or ([interp.outer_frame] if interp.outer_frame is not None else [])
    values: list[Any] = []
    if frames:
        frame = frames[-1]
        error.frames = user_frames(frames)
        error.instruction = instruction_info(frame.code, frame.current_instr)
        error.window = bytecode_window(frame)
        values = list(frame.stack)
    top = values[len(values) - len(error.operands):] if error.operands else []
    # Operands still on the stack (handlers that fail before popping) are shown once.
    values += [v for v in error.operands if not any(v is t for t in top)]
    error.stack = [describe_value(v) for v in values]


def current_location(interp: "Interpreter") -> Location | None:
    """The shape environment's provenance: innermost frame up to the innermost user frame."""
    frames = interp.frames
    if not frames:
        return None
    infos = []
    for frame in reversed(frames):
        info = frame_info(frame)
        infos.append(info)
        if not info.is_library:
            break
    top = frames[-1]
    return Location(tuple(infos), instruction_info(top.code, top.current_instr))


class TraceLocation:
    """Where the interpreter was when it made a graph node (node.meta["st_where"]), so later
    stages (functionalization) can refuse with the same location as a refusal while tracing."""

    __slots__ = ("frames", "instrs", "index")

    def __init__(self, frames: tuple, instrs: list, index: int) -> None:
        self.frames = frames          # (code, lineno) per interpreted frame, outermost first
        self.instrs = instrs          # decoded instructions of the innermost frame
        self.index = index            # the current instruction's index in `instrs`

    @classmethod
    def snapshot(cls, frames: list[Frame], positions: tuple | None = None) -> "TraceLocation | None":
        """Where the interpreter is; `positions`: the frames' (code, lineno), if made already."""
        if not frames:
            return None
        top = frames[-1]
        if positions is None:
            positions = tuple((f.code, f.lineno) for f in frames)
        return cls(positions, top.instrs, top.current_instr.index)

    def __deepcopy__(self, memo: dict) -> "TraceLocation":
        return self                   # immutable; torch passes deep-copy node meta

    def error(self, category: str, reason: str, hint: str = "") -> GraphBreakError:
        frames = []
        for code, lineno in reversed(self.frames):
            filename = code.co_filename
            source = linecache.getline(filename, lineno).strip() if lineno else ""
            frames.append(UserFrame(filename, lineno, code.co_name, source, is_library_file(filename)))
        code = self.frames[-1][0]
        current = self.instrs[self.index]
        lo, hi = max(0, self.index - WINDOW), min(len(self.instrs), self.index + WINDOW + 1)
        window = [(other is current, instruction_info(code, other)) for other in self.instrs[lo:hi]]
        return GraphBreakError(category, reason, frames, instruction_info(code, current), window,
                               [], hint)


# ---------------------------------------------------------------------- values
_SAFE_REPR_TYPES = (int, float, complex, bool, str, bytes, type(None), type(Ellipsis), slice,
                    range, torch.dtype, torch.device, torch.Size, torch.layout,
                    torch.memory_format)


def describe_value(value: Any, short: bool = False) -> str:
    """A one-line description of an abstract value; never runs user code natively."""
    text = _describe(value, short, depth=0)
    return text if len(text) <= _MAX_VALUE_TEXT else text[:_MAX_VALUE_TEXT - 3] + "..."


def _describe(value: Any, short: bool, depth: int) -> str:
    t = type(value)
    if t.__module__.startswith("strict_tracer"):      # our own values: safe to describe
        if short and hasattr(value, "meta"):
            return f"Tensor({value.meta.short_str()}, %{value.node.name})"
        try:
            if hasattr(t, "describe"):
                return value.describe()
            if t.__repr__ is not object.__repr__:
                return repr(value)
        except Exception:
            pass
        return f"<{display_name(t)}>"
    if t in _SAFE_REPR_TYPES:
        text = repr(value)
        return text if len(text) <= 40 or not short else text[:37] + "..."
    if t in (tuple, list, set, frozenset) and depth < 2:
        items = list(value)
        parts = [_describe(v, True, depth + 1) for v in items[:4]]
        if len(items) > 4:
            parts.append(f"... {len(items) - 4} more")
        body = ", ".join(parts)
        if t is tuple:
            return f"({body}{',' if len(items) == 1 else ''})"
        if t is list:
            return f"[{body}]"
        return f"{t.__name__}({{{body}}})"
    if t is dict and depth < 2:
        parts = [f"{_describe(k, True, depth + 1)}: {_describe(v, True, depth + 1)}"
                 for k, v in list(value.items())[:4]]
        if len(value) > 4:
            parts.append(f"... {len(value) - 4} more")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, torch.nn.Module):
        return f"module {t.__name__}"
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).replace("torch.", "")
        return f"real Tensor({dtype}{list(value.shape)})"
    if t is types.FunctionType:
        return f"function {value.__qualname__}"
    if t is types.MethodType:
        return f"method {getattr(value.__func__, '__qualname__', value.__func__)}"
    if t in (types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType,
             types.MethodWrapperType):
        return f"builtin {getattr(value, '__qualname__', getattr(value, '__name__', '?'))}"
    if t is types.ModuleType:
        return f"module {value.__name__}"
    if isinstance(value, type):
        return f"class {value.__qualname__}"
    if t.__repr__ is object.__repr__ or isinstance(value, BaseException):
        if isinstance(value, BaseException):
            return f"{t.__name__}({', '.join(_describe(a, True, depth + 1) for a in value.args[:2])})"
        return f"{t.__qualname__} object"
    if t.__module__ == "builtins":
        return f"{t.__name__} object"
    return f"{t.__qualname__} object"
