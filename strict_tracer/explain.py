"""explain(): every problem that keeps a module from exporting, found in one run.

explain() traces like export() but with the interpreter in explain mode (see
interpreter/diagnostics/recovery.py): a refusal is recorded with all its details and tracing continues
past it with a stand-in value. The report lists the problems in the order they were met, the
guards and specializations tracing added (with the user line that added each), and how many
ops were captured. Each problem says whether it is a limitation of strict capture (a refusal,
or an error that only tracing causes) or the program's own error (one eager raises too), by
the evidence interpreter/diagnostics/evidence.py describes. explain() never returns a program.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import torch

from .errors import (Category, ConstraintViolationError, GraphBreakError, InstructionInfo,
                     Location, StrictTracerError, UserFrame)
from .packaging.torch_symbols import program_names
from .stage_log import Stages
from .interpreter.diagnostics.recovery import (DEFAULT_MAX_INSTRUCTIONS, ExplainStop, StandIn, explain_standin)

LIMITATION = "limitation"              # Problem.kind: strict capture cannot take this
PROGRAM_ERROR = "program error"        # Problem.kind: the program raises this itself


@dataclass
class Problem:
    """One refusal: the GraphBreakError export() would raise, and how explain() went on."""

    error: GraphBreakError
    action: str                      # what explain() assumed to continue past it
    count: int = 1                   # how many times tracing met it

    @property
    def category(self) -> str:
        """The refusal's `Category` value."""
        return self.error.category

    @property
    def kind(self) -> str:
        """LIMITATION (export refuses it) or PROGRAM_ERROR (the program raises it itself)."""
        return PROGRAM_ERROR if self.error.category == Category.USER_ERROR else LIMITATION

    @property
    def reason(self) -> str:
        """What was refused and why."""
        return self.error.reason

    @property
    def frames(self) -> list[UserFrame]:
        """The user's frames at the refusal, innermost first."""
        return self.error.frames

    @property
    def instruction(self) -> InstructionInfo | None:
        """The refused bytecode instruction, as `dis` shows it."""
        return self.error.instruction

    @property
    def stack(self) -> list[str]:
        """Descriptions of the abstract stack values, top last."""
        return self.error.stack

    @property
    def hint(self) -> str:
        """The suggested fix."""
        return self.error.hint

    @property
    def location(self) -> str:
        """file:line of the innermost frame of the user's own code."""
        return self.error.location

    def as_dict(self) -> dict[str, Any]:
        """The problem as JSON-serializable data (what `explain --json` prints): where (the
        innermost frame of the user's code), the instruction, the message and the fix first,
        then the details."""
        instr = self.instruction
        user = Location(tuple(self.frames)).user_frame
        return {
            "category": self.category, "kind": self.kind, "message": self.reason,
            "file": user.filename if user else None, "line": user.lineno if user else None,
            "function": user.function if user else None, "source": user.source if user else "",
            "offset": instr.offset if instr else None, "opname": instr.opname if instr else None,
            "argrepr": instr.argrepr if instr else None, "fix": self.hint,
            "action": self.action, "count": self.count,
            "frames": [{"file": f.filename, "line": f.lineno, "function": f.function,
                        "source": f.source, "is_library": f.is_library} for f in self.frames],
            "stack": list(self.stack),
        }


@dataclass
class GuardRecord:
    """A guard or specialization tracing added, and where."""

    expr: str
    location: Location | None
    kind: str = "guard"

    def __str__(self) -> str:
        where = str(self.location) if self.location is not None else "<outside the program>"
        return f"{self.kind}: {self.expr}  ({where})"


@dataclass
class ExplainReport:
    """What explain() found: the problems, the guards tracing added, the ops captured.

    `str(report)` renders it for people, `as_dict()` for tools; `ok` says whether the module
    exports as is.
    """

    problems: list[Problem] = field(default_factory=list)
    guards: list[GuardRecord] = field(default_factory=list)
    ops: int = 0                       # tensor ops captured (stand-ins excluded)
    stopped: str | None = None         # why explain() stopped before the end, if it did
    violations: list[str] = field(default_factory=list)   # ConstraintViolationError messages

    @property
    def ok(self) -> bool:
        """True when the module exports as is."""
        return not self.problems and not self.violations and self.stopped is None

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-serializable data (what `explain --json` prints)."""
        return {"ok": self.ok, "ops": self.ops, "stopped": self.stopped,
                "violations": list(self.violations),
                "problems": [p.as_dict() for p in self.problems],
                "guards": [{"kind": g.kind, "expr": g.expr,
                            "location": None if g.location is None else str(g.location)}
                           for g in self.guards]}

    def to_json(self, indent: int | None = 2) -> str:
        """`as_dict()` as a JSON string (what `strict-tracer explain --json` prints)."""
        return json.dumps(self.as_dict(), indent=indent)

    def __str__(self) -> str:
        n = len(self.problems)
        header = f"explain(): {n} problem{'s' if n != 1 else ''} found"
        if self.violations:
            header += ", dynamic_shapes constraints violated"
        lines = [header + f", {self.ops} tensor ops captured"
                 + ("; the module exports as is" if self.ok else "")]
        for index, problem in enumerate(self.problems, 1):
            seen = f", met {problem.count} times" if problem.count > 1 else ""
            lines.append("")
            lines.append(f"Problem {index} of {n} at {problem.location} ({problem.kind}{seen})")
            lines += ["  " + line for line in problem.error.render().splitlines()]
            lines.append(f"  -> {problem.action}")
        for violation in self.violations:
            lines += ["", "dynamic_shapes constraint violation:"]
            lines += ["  " + line for line in violation.splitlines()]
        if self.stopped:
            lines += ["", f"explain() stopped early: {self.stopped}"]
        if self.problems and not any(p.action.startswith("found by export()")
                                     for p in self.problems):
            lines += ["", "Functionalization and packaging run once these are fixed; export() "
                          "may refuse more there."]
        lines.append("")
        if self.guards:
            lines.append(f"Guards and specializations ({len(self.guards)}):")
            lines += [f"  {guard}" for guard in self.guards]
        else:
            lines.append("Guards and specializations: none")
        return "\n".join(lines)


class ExplainSession:
    """Collects problems while the interpreter runs in explain mode."""

    def __init__(self, max_instructions: int = DEFAULT_MAX_INSTRUCTIONS) -> None:
        self.max_instructions = max_instructions
        self.problems: list[Problem] = []
        self._by_key: dict[tuple, Problem] = {}
        self.interp = None
        self.recovery = None

    def attach(self, interp, recovery) -> None:
        self.interp = interp
        self.recovery = recovery

    def add_problem(self, error: GraphBreakError, action: str) -> None:
        instr = error.instruction
        first = error.frames[0] if error.frames else None
        # One report per source line (`while cond:` tests cond at two offsets).
        key = (error.category, error.reason, first and first.filename, first and first.lineno)
        known = self._by_key.get(key)
        if known is not None:
            known.count += 1
            return
        problem = Problem(error, action)
        self._by_key[key] = problem
        self.problems.append(problem)

    def add_escaped(self, exc: BaseException) -> None:
        """An exception ended the trace: report it where it was raised."""
        if isinstance(exc, GraphBreakError):
            if not any(type(v) is StandIn for v in exc.operands):
                self.add_problem(exc, "explain() could not continue past this problem")
            return
        escaped = self.recovery.escaped if self.recovery is not None else None
        if escaped is not None and escaped[0] is exc:
            error = escaped[1]
        else:
            error = GraphBreakError(Category.USER_ERROR, f"{type(exc).__name__}: {exc}")
            if self.interp is not None:
                self.interp.locate(error)
        self.add_problem(error, "the trace ended here")

    def report(self, stopped: str | None, violations: list[str] = ()) -> ExplainReport:
        guards: list[GuardRecord] = []
        ops = 0
        if self.interp is not None:
            state = self.interp.state
            env = state.shape_env
            show = program_names(env, state.input_symbols)
            for guard in getattr(env, "guards", ()):
                guards.append(GuardRecord(show(guard.expr),
                                          getattr(guard, "provenance", None),
                                          getattr(guard, "kind", "guard")))
            ops = sum(1 for node in self.interp.state.graph.graph.nodes
                      if node.op == "call_function" and node.target is not explain_standin)
        return ExplainReport(list(self.problems), guards, ops, stopped, list(violations))


def explain(mod: torch.nn.Module, args: tuple, kwargs: dict | None = None, *,
            dynamic_shapes: Any = None) -> ExplainReport:
    """Trace `mod` like export() and report every problem instead of stopping at the first."""
    from .api import trace, validate_arguments

    args, kwargs = validate_arguments(mod, args, kwargs)
    session = ExplainSession()
    stopped = None
    violations = []
    stages = Stages(f"explain of {type(mod).__name__}")
    try:
        trace(mod, args, kwargs, dynamic_shapes=dynamic_shapes, explain=session, stages=stages)
    except ExplainStop as stop:
        stopped = str(stop)
    except ConstraintViolationError as violation:
        violations.append(str(violation))
    except GraphBreakError as error:   # a refusal explain() could not continue past
        session.add_escaped(error)
    except StrictTracerError:
        raise
    except Exception as exc:           # the program raised an exception that ended the trace
        session.add_escaped(exc)
    report = session.report(stopped, violations)
    if report.ok:
        _check_later_stages(report, mod, args, kwargs, dynamic_shapes)
    stages.finished()
    return report


def _check_later_stages(report: ExplainReport, mod: torch.nn.Module, args: tuple, kwargs: dict,
                        dynamic_shapes: Any) -> None:
    """The trace found nothing: run the whole export, whose later stages (functionalization,
    packaging) refuse some programs too (an in-place update whose gradient a functional graph
    cannot express), so that `ok` means export() succeeds."""
    from .api import export
    try:
        export(mod, args, kwargs, dynamic_shapes=dynamic_shapes)
    except ConstraintViolationError as violation:
        report.violations.append(str(violation))
    except GraphBreakError as error:
        report.problems.append(Problem(error, "found by export() after tracing (while "
                                              "functionalizing or packaging the program)"))
