"""Errors raised by strict_tracer.

One base class and a few categories users can catch. A `GraphBreakError` carries structured
fields (category, user frames, failing instruction, bytecode window, abstract stack, hint) and
renders them into a message that says where, what, why and how to fix it.

Every GraphBreakError is located: the interpreter's `refuse()` fills the location in, and a
GraphBreakError constructed anywhere else is located by the interpreter's run loop when it
passes through it (or, raised after forward() returned, by `context.activate` as it leaves
the trace). This module imports nothing of the tracer.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from torch._dynamo.exc import TorchRuntimeError, Unsupported, UserError, UserErrorType
from torch.fx.experimental.symbolic_shapes import \
    ConstraintViolationError as TorchConstraintViolationError


class StrictTracerError(Exception):
    """Base class of every error raised by strict_tracer itself."""


def _as_torch_error(error: Exception, message: str, error_type: UserErrorType | None) -> None:
    """Initialise `error` as torch.export's error classes expect: the message, and the
    attributes torch._dynamo.exc.UserError / Unsupported instances carry."""
    Exception.__init__(error, message)
    error.msg = message
    error.real_stack = None
    error.skip_frame = False
    error.logged = False
    if error_type is not None:
        error.error_type = error_type


OP_FAILURE = "_strict_tracer_op_failure"    # set on the error a tensor op's kernel raised
_OP_FAILURE_CLASSES: dict[type, type] = {}


def as_torch_op_failure(error: BaseException) -> BaseException:
    """`error` as export lets it out: a tensor op's RuntimeError (marked OP_FAILURE where the
    op ran) that forward did not catch is, as in torch.export strict, a
    torch._dynamo.exc.TorchRuntimeError, and still an instance of eager's class with eager's
    message. Any other error (an op's IndexError, TypeError, ...) is returned unchanged, as
    torch lets those out too."""
    cls = type(error)
    if (not isinstance(error, RuntimeError) or isinstance(error, TorchRuntimeError)
            or not getattr(error, OP_FAILURE, False)):
        return error
    if cls not in _OP_FAILURE_CLASSES:
        _OP_FAILURE_CLASSES[cls] = type(cls.__name__, (TorchRuntimeError, cls),
                                        {"__module__": cls.__module__})
    wrapped_cls = _OP_FAILURE_CLASSES[cls]
    wrapped = wrapped_cls.__new__(wrapped_cls, *error.args)   # no __init__: its own arguments
    wrapped.args = error.args
    wrapped.__dict__.update(error.__dict__)
    return wrapped.with_traceback(error.__traceback__)


class UserInputError(StrictTracerError, ValueError, UserError):
    """The arguments given to export() (inputs, dynamic_shapes, module) are malformed.

    Also a ValueError and a torch._dynamo.exc.UserError (INVALID_INPUT): torch.export raises
    one or the other for malformed inputs, and code written against it catches those.
    """

    def __init__(self, message: str = "") -> None:
        _as_torch_error(self, message, UserErrorType.INVALID_INPUT)


class ConstraintViolationError(StrictTracerError, UserError, TorchConstraintViolationError,
                               ValueError):
    """Tracing specialized or related dimensions that dynamic_shapes declared dynamic/independent.

    `violations` holds one line per problem, `fixes` the suggested `dynamic_shapes` changes
    (`d1 = 4`, `dy = dx`), both also rendered in the message. Also what torch.export raises
    for the same situation: a torch._dynamo.exc.UserError (CONSTRAINT_VIOLATION), a
    torch.fx.experimental.symbolic_shapes.ConstraintViolationError, and for Dim.DYNAMIC /
    Dim.AUTO conflicts a ValueError.
    """

    def __init__(self, message: str, violations: tuple = (), fixes: tuple = ()):
        _as_torch_error(self, message, UserErrorType.CONSTRAINT_VIOLATION)
        self.violations = list(violations)
        self.fixes = list(fixes)

    @classmethod
    def from_violations(cls, violations: list[str], fixes: list[str], names: list[str],
                        solved: tuple = ()) -> "ConstraintViolationError":
        """The error torch.export raises: the dims named (sorted), one line a violation, the
        values solving the guards forced (`solved`: (root names, lines)), the fixes."""
        lines = []
        if violations:
            lines.append(f"Constraints violated ({', '.join(sorted(set(names)))})!")
            lines += [f"  - {v}" for v in violations]
        if solved:
            roots, found = solved
            lines.append(f"Specializations unexpectedly required ({', '.join(sorted(set(roots)))})!")
            lines += [f"  - {v}" for v in found]
        if fixes:
            lines.append("Suggested fixes:")
            lines += [f"  {f}" for f in dict.fromkeys(fixes)]
        return cls("\n".join(lines), tuple(violations) + tuple(solved[1] if solved else ()),
                   list(dict.fromkeys(fixes)))

    @classmethod
    def from_conflicts(cls, conflicts: list[str]) -> "ConstraintViolationError":
        """torch.export's ValueError for Dim.DYNAMIC/AUTO hints that tracing contradicts."""
        lines = ["Found the following conflicts between user-specified ranges and inferred "
                 "ranges from model tracing:"] + [f"- {c}" for c in conflicts]
        return cls("\n".join(lines), tuple(conflicts))

    def __reduce__(self):
        return (type(self), (self.msg, tuple(self.violations), tuple(self.fixes)))


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
    CONTROL_FLOW_OP = "control-flow operator misuse"

    @classmethod
    def all(cls) -> list[str]:
        """Every category value."""
        return [v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)]


# The fix shown when a refusal site gives none of its own.
DEFAULT_HINTS = {
    Category.DATA_DEPENDENT_BRANCH:
        "use torch.cond(pred, true_fn, false_fn, operands) for control flow on tensor values, "
        "or branch on shapes instead of values",
    Category.DATA_DEPENDENT_VALUE:
        "keep the value as a tensor (tensor ops instead of Python arithmetic); for sizes, use "
        ".item() with torch._check() bounds",
    Category.UNSUPPORTED_NATIVE:
        "compute this outside forward() and pass the result in as an input or attribute",
    Category.SIDE_EFFECT:
        "keep forward() free of effects outside the model: return values instead of writing them",
    Category.UNSUPPORTED_BYTECODE:
        "rewrite this construct with plain synchronous Python",
    Category.UNSUPPORTED_TENSOR_OP:
        "use a different torch op, or register a custom op with a fake (meta) implementation",
    Category.UNSUPPORTED_PYTHON:
        "rewrite this part of forward() with plain Python functions, classes and containers",
    Category.USER_ERROR:
        "the program raised this exception itself while tracing; fix the error or the example "
        "inputs",
}


@dataclass(frozen=True)
class UserFrame:
    """One frame of the traced program: where it is and the source text of the line."""

    filename: str
    lineno: int | None
    function: str
    source: str = ""
    is_library: bool = False

    def location(self) -> str:
        """`filename:lineno`."""
        return f"{self.filename}:{self.lineno}"

    def short_location(self) -> str:
        """`basename:lineno`."""
        return f"{os.path.basename(self.filename)}:{self.lineno}"

    def __str__(self) -> str:
        return f'File "{self.filename}", line {self.lineno}, in {self.function}'


@dataclass(frozen=True)
class InstructionInfo:
    """One bytecode instruction as `dis` shows it: offset, opname, arg and readable argrepr."""

    offset: int
    opname: str
    argrepr: str = ""
    arg: int | None = None

    def __str__(self) -> str:
        return f"{self.offset} {self.opname} {self.operand_text()}".rstrip()

    def operand_text(self) -> str:
        """The operand column of `dis`: `arg (argrepr)`."""
        if self.arg is None:
            return self.argrepr
        return f"{self.arg} ({self.argrepr})" if self.argrepr else str(self.arg)


@dataclass(frozen=True)
class Location:
    """Where the trace was when something happened (a guard, a specialization, a log event)."""

    frames: tuple[UserFrame, ...]            # innermost first
    instruction: InstructionInfo | None = None

    @property
    def user_frame(self) -> UserFrame | None:
        """The innermost frame of the user's own code (not library code), if any."""
        for frame in self.frames:
            if not frame.is_library:
                return frame
        return self.frames[0] if self.frames else None

    def __str__(self) -> str:
        frame = self.user_frame
        if frame is None:
            return "<outside the traced program>"
        text = f"{frame.location()} in {frame.function}"
        return f"{text}: {frame.source}" if frame.source else text


@dataclass
class GraphBreakError(StrictTracerError, Unsupported):
    """The traced program does something that cannot be captured soundly in one graph.

    Also a torch._dynamo.exc.Unsupported, what torch.export's strict mode raises for a graph
    break (`gb_type` holds our category, as Unsupported's does its graph-break type).

    `operands` (the raw values the refused operation received) and `standin` (what explain()
    should push for the failing instruction: "tensor", "bool" or None for an opaque value) are
    for tools; they are not part of the message and are not pickled.
    """

    category: str
    reason: str
    frames: list[UserFrame] = field(default_factory=list)   # innermost first
    instruction: InstructionInfo | None = None
    window: list[tuple[bool, InstructionInfo]] = field(default_factory=list)
    stack: list[str] = field(default_factory=list)
    hint: str = ""
    operands: tuple = field(default=(), repr=False, compare=False)
    standin: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.hint:
            self.hint = DEFAULT_HINTS.get(self.category, "")
        _as_torch_error(self, self.render(), None)
        self.gb_type = self.category

    def __str__(self) -> str:
        return self.render()

    @property
    def located(self) -> bool:
        """Whether the location (user frames or instruction) is filled in."""
        return bool(self.frames) or self.instruction is not None

    def __reduce__(self):
        return (_rebuild_graph_break, (self.category, self.reason, self.frames, self.instruction,
                                       self.window, self.stack, self.hint, type(self)))

    @property
    def location(self) -> str:
        """file:line of the innermost user (non-library) frame."""
        frame = Location(tuple(self.frames)).user_frame
        return frame.location() if frame is not None else "<unknown>"

    def render(self) -> str:
        """The message: category, reason, user stack, bytecode window, stack values and fix."""
        lines = [f"{self.category}: {self.reason}"]
        lines += _render_frames(self.frames)
        if self.window:
            innermost = self.frames[0] if self.frames else None
            where = f" of {innermost.function} ({innermost.short_location()})" if innermost else ""
            lines.append(f"  bytecode{where}:")
            for is_current, info in self.window:
                arrow = "-->" if is_current else "   "
                lines.append(f"    {arrow} {info.offset:>5} {info.opname:<28} "
                             f"{info.operand_text()}".rstrip())
        elif self.instruction is not None:
            lines.append(f"  instruction: {self.instruction}")
        if self.stack:
            lines.append("  stack (top last):")
            for value in self.stack:
                lines.append(f"    {value}")
        if self.hint:
            lines.append(f"  fix: {self.hint}")
        return "\n".join(lines)


class DataDependentGuardError(GraphBreakError, UserError):
    """Control flow or a size decision on a data-dependent (unbacked) value, e.g. `if n > 2:`
    after `n = x.nonzero().shape[0]`. Also a torch._dynamo.exc.UserError (ANTI_PATTERN), as
    torch.export raises for a guard on a data-dependent symbol; fixed with torch._check()."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.error_type = UserErrorType.ANTI_PATTERN


def _render_frames(frames: list[UserFrame]) -> list[str]:
    """The user's frames innermost first; library frames folded into one line."""
    if not frames:
        return []
    lines = ["  user stack (innermost first):"]
    user = [f for f in frames if not f.is_library]
    shown = user or frames
    if user and frames[0].is_library:
        inner = frames[0]
        lines.append(f"    [failed inside library code: {inner.location()} in {inner.function}]")
        if inner.source:
            lines.append(f"        {inner.source}")
    for frame in shown:
        lines.append(f"    {frame.location()} in {frame.function}")
        if frame.source:
            lines.append(f"        {frame.source}")
    folded = len(frames) - len(user)
    if user and folded:
        lines.append(f"    ({folded} library frame{'s' if folded != 1 else ''} folded)")
    return lines


def _rebuild_graph_break(category, reason, frames, instruction, window, stack, hint,
                         cls=GraphBreakError):
    return cls(category, reason, frames, instruction, window, stack, hint)
