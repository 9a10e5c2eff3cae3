"""Errors raised by strict_tracer.

One base class and a few categories users can catch. A `GraphBreakError` carries structured
fields (category, user frames, failing instruction, bytecode window, abstract stack, hint) and
renders them into a message that says where, what, why and how to fix it.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class StrictTracerError(Exception):
    """Base class of every error raised by strict_tracer itself."""


class UserInputError(StrictTracerError, ValueError):
    """The arguments given to export() (inputs, dynamic_shapes, module) are malformed."""


class ConstraintViolationError(StrictTracerError):
    """Tracing specialized or related dimensions that dynamic_shapes declared dynamic/independent."""


class InternalTracerError(StrictTracerError):
    """A bug in strict_tracer: an invariant of the tracer did not hold."""


class Category:
    """Why a construct was refused. The values are stable strings meant for tools."""

    DATA_DEPENDENT_BRANCH = "data-dependent branch"
    DATA_DEPENDENT_VALUE = "data-dependent value used as Python scalar"
    UNSUPPORTED_NATIVE = "unsupported native call"
    SIDE_EFFECT = "side effect on outside state"
    UNSUPPORTED_BYTECODE = "unsupported bytecode"
    UNSUPPORTED_TENSOR_OP = "unsupported tensor op"
    UNSUPPORTED_PYTHON = "unsupported Python construct"
    USER_ERROR = "error raised by the traced program"


@dataclass(frozen=True)
class UserFrame:
    """One frame of the traced program: where it is and the source text of the line."""

    filename: str
    lineno: int | None
    function: str
    source: str = ""
    is_library: bool = False

    def location(self) -> str:
        return f"{self.filename}:{self.lineno}"

    def __str__(self) -> str:
        return f'File "{self.filename}", line {self.lineno}, in {self.function}'


@dataclass(frozen=True)
class InstructionInfo:
    offset: int
    opname: str
    argrepr: str = ""

    def __str__(self) -> str:
        return f"{self.offset} {self.opname} {self.argrepr}".rstrip()


@dataclass
class GraphBreakError(StrictTracerError):
    """The traced program does something that cannot be captured soundly in one graph."""

    category: str
    reason: str
    frames: list[UserFrame] = field(default_factory=list)   # innermost first
    instruction: InstructionInfo | None = None
    window: list[tuple[bool, InstructionInfo]] = field(default_factory=list)
    stack: list[str] = field(default_factory=list)
    hint: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.render())

    def __str__(self) -> str:
        return self.render()

    def __reduce__(self):
        return (_rebuild_graph_break, (self.category, self.reason, self.frames, self.instruction,
                                       self.window, self.stack, self.hint))

    @property
    def location(self) -> str:
        user = [f for f in self.frames if not f.is_library] or self.frames
        return user[0].location() if user else "<unknown>"

    def render(self) -> str:
        lines = [f"{self.category}: {self.reason}"]
        user_frames = [f for f in self.frames if not f.is_library]
        folded = len(self.frames) - len(user_frames)
        shown = user_frames or self.frames
        if shown:
            lines.append("  user stack (innermost first):")
            for frame in shown:
                lines.append(f"    {frame.filename}:{frame.lineno} in {frame.function}")
                if frame.source:
                    lines.append(f"        {frame.source}")
            if folded and user_frames:
                lines.append(f"    ({folded} library frame{'s' if folded != 1 else ''} folded)")
        if self.window:
            lines.append("  bytecode:")
            for is_current, info in self.window:
                arrow = "-->" if is_current else "   "
                lines.append(f"    {arrow} {info.offset:>5} {info.opname:<28} {info.argrepr}".rstrip())
        elif self.instruction is not None:
            lines.append(f"  instruction: {self.instruction}")
        if self.stack:
            lines.append("  stack (top last):")
            for value in self.stack:
                lines.append(f"    {value}")
        if self.hint:
            lines.append(f"  fix: {self.hint}")
        return "\n".join(lines)


def _rebuild_graph_break(category, reason, frames, instruction, window, stack, hint):
    return GraphBreakError(category, reason, frames, instruction, window, stack, hint)
