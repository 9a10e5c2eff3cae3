"""explain() mode: continue past a refusal as if the failing instruction had succeeded.

The observed run loop keeps a copy of the value stack from before each instruction. When the
instruction is refused, Recovery restores that stack and emulates the instruction's stack
effect with stand-ins: a conditional jump picks a side (the condition is taken as True the
first time an instruction is met, False afterwards, so loops end), a refused tensor op pushes
a fresh proxy with the metadata of its first tensor operand, anything else pushes an opaque
`StandIn`. A branch whose guessed side would go straight into a `raise` takes the other side.

An ordinary exception is judged by evidence (evidence.py): raised by an instruction that
consumed a stand-in (or a tensor computed from one), it is a consequence of explain's guesses
and is absorbed without a report; raised by one that succeeds when re-run on the example
values, it is strict_tracer's limitation with a symbolic value or a proxy: reported, and
tracing continues past it. Any other exception is the program's own and ends the trace.
Explain never returns a program.
"""
from __future__ import annotations

import dis
from typing import TYPE_CHECKING, Any

import torch

from ...errors import Category, GraphBreakError, StrictTracerError
from ...proxy import TensorProxy
from .diagnose import is_library_file
from .evidence import StandInValue, holds_opaque, limitation, tainted, traced_kind
from ..frame import NULL

if TYPE_CHECKING:
    from ..core import Interpreter
    from ..frame import Frame

# Opcode names of every supported version (3.11's directed jumps, 3.12's undirected ones).
_JUMP_IF_FALSE = frozenset({"POP_JUMP_FORWARD_IF_FALSE", "POP_JUMP_BACKWARD_IF_FALSE",
                            "POP_JUMP_IF_FALSE"})
_JUMP_IF_TRUE = frozenset({"POP_JUMP_FORWARD_IF_TRUE", "POP_JUMP_BACKWARD_IF_TRUE",
                           "POP_JUMP_IF_TRUE"})
_BLOCK_ENDS = frozenset({"RETURN_VALUE", "RETURN_CONST", "JUMP_FORWARD", "JUMP_BACKWARD",
                         "JUMP_BACKWARD_NO_INTERRUPT", "JUMP", "RERAISE"}) | _JUMP_IF_FALSE \
    | _JUMP_IF_TRUE
_LOOKAHEAD = 40           # instructions scanned for a `raise` on a guessed branch side
# Results that are a tensor when an operand is one (a limitation's stand-in is then a tensor).
_TENSOR_OPERATORS = frozenset({"BINARY_OP", "BINARY_SUBSCR", "UNARY_NEGATIVE", "UNARY_POSITIVE",
                               "UNARY_INVERT"})
# Instructions after which execution never falls through: nothing sensible to continue with.
_NO_FALLTHROUGH = frozenset({"RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE",
                             "YIELD_VALUE", "JUMP_FORWARD", "JUMP_BACKWARD",
                             "JUMP_BACKWARD_NO_INTERRUPT", "SEND", "RETURN_GENERATOR",
                             "CLEANUP_THROW"})
_NO_OUTPUT = frozenset({"POP_TOP", "LIST_APPEND", "SET_ADD", "MAP_ADD", "LIST_EXTEND",
                        "SET_UPDATE", "DICT_UPDATE", "DICT_MERGE", "POP_EXCEPT", "IMPORT_STAR",
                        "PRINT_EXPR", "SETUP_ANNOTATIONS", "KW_NAMES", "NOP", "RESUME",
                        "PRECALL", "CACHE", "COPY_FREE_VARS", "MAKE_CELL", "END_FOR"})
# 3.13's dispatch keys that take a branch condition's truth before its jump.
_CONDITIONS = frozenset({"TO_BOOL", "COMPARE_OP:bool"})
# Dispatch keys (decode.Instr.key) that push a callable and NULL (or a method and self).
_METHOD_LOADS = frozenset({"LOAD_METHOD", "LOAD_ATTR:method", "LOAD_SUPER_ATTR:method"})
# Dispatch keys that push two values.
_TWO_OUTPUTS = _METHOD_LOADS | {"BEFORE_WITH", "PUSH_EXC_INFO", "LOAD_FAST_LOAD_FAST"}
# Instructions whose result is a tensor when an operand is one.
_TENSOR_RESULT = frozenset({"BINARY_OP", "BINARY_SUBSCR", "BINARY_SLICE", "CALL", "CALL_KW",
                            "CALL_FUNCTION_EX", "UNARY_NEGATIVE", "UNARY_POSITIVE",
                            "UNARY_INVERT", "COMPARE_OP", "LOAD_ATTR"})
DEFAULT_MAX_INSTRUCTIONS = 5_000_000


class ExplainStop(StrictTracerError):
    """explain() cannot continue past this point; the report ends here."""


def explain_standin(*args: Any) -> Any:
    """Target of the graph nodes that stand for refused tensor ops (explain mode only)."""
    raise RuntimeError("explain() stand-in nodes are never executed")


class StandIn(StandInValue):
    """An opaque value explain() pushes for a refused operation's result."""

    _strict_tracer_native = True
    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why

    def describe(self) -> str:
        return f"<stand-in for {self.why}>"

    __repr__ = describe

    def __bool__(self) -> bool:
        raise TypeError("the truth value of an explain() stand-in is unknown")


class Recovery:
    """Explain mode's side of the observed run loop (see module docstring)."""

    def __init__(self, interp: "Interpreter", session: Any) -> None:
        self.interp = interp
        self.session = session
        self.max_instructions = getattr(session, "max_instructions", DEFAULT_MAX_INSTRUCTIONS)
        self.steps = 0
        self.visits: dict[tuple[int, int], int] = {}     # (id(code), offset) -> times decided
        self.standin_nodes: set[torch.fx.Node] = set()
        self.escaped: tuple[BaseException, GraphBreakError] | None = None
        session.attach(interp, self)

    # ------------------------------------------------------------------ run-loop hooks
    def step(self) -> None:
        self.steps += 1
        if self.steps > self.max_instructions:
            raise ExplainStop(f"explain() stopped after {self.max_instructions} instructions")

    def recover(self, frame: "Frame", instr: Any, before: list, error: GraphBreakError) -> None:
        """A refusal at `instr`: record it (unless a stand-in caused it) and continue.

        A refusal inside library code called from the user's code abandons the whole library
        call: it is recorded once, re-raised through the library frames, and the innermost
        user frame continues after its call instruction with a stand-in result.
        """
        inputs = _inputs(instr, before)
        if getattr(error, "_explain_recorded", False):
            if self._inside_library_call(frame):
                raise error
            kind = "tensor" if _first_proxy(inputs or []) is not None else "opaque"
            self._continue(frame, instr, before, error, kind)
            return
        caused_by_standin = holds_opaque(error.operands) or holds_opaque(inputs or ())
        if self._inside_library_call(frame):
            error._explain_recorded = True
            if not caused_by_standin:
                user = next(f for f in reversed(self.interp.frames) if not _is_library(f))
                self.session.add_problem(
                    error, f"explain() abandoned this library call and continued after "
                           f"{user.code.co_filename}:{user.lineno} with a stand-in result")
            raise error
        try:
            action = self._continue(frame, instr, before, error)
        except ExplainStop as stop:
            if not caused_by_standin:
                self.session.add_problem(error, f"explain() could not continue: {stop}")
            raise
        if not caused_by_standin:
            self.session.add_problem(error, action)

    def _inside_library_call(self, frame: "Frame") -> bool:
        """`frame` runs library code, called (maybe indirectly) from the user's code."""
        return _is_library(frame) and any(not _is_library(f) for f in self.interp.frames[:-1])

    def absorb(self, frame: "Frame", instr: Any, before: list, exc: BaseException,
               kwnames: tuple | None = None) -> bool:
        """An ordinary exception that is not the program's own (see the module docstring):
        swallow it (a consequence of a stand-in) or report it as a limitation; continue."""
        if isinstance(exc, GeneratorExit):
            return False
        inputs = _inputs(instr, before)
        if inputs is None:
            return False
        if tainted(inputs, self.standin_nodes):
            try:
                self._continue(frame, instr, before, exc)
            except ExplainStop:
                return False
            return True
        what = limitation(frame.code, instr, inputs, kwnames)
        if what is None:
            return False
        self.recover(frame, instr, before, self._limitation(frame, instr, before, inputs, exc,
                                                            what))
        return True

    def _limitation(self, frame: "Frame", instr: Any, before: list, inputs: list,
                    exc: BaseException, what: str) -> GraphBreakError:
        """The refusal export() should have raised for an exception only tracing causes."""
        frame.stack[:] = before
        standin = ("tensor" if instr.opname in _TENSOR_OPERATORS
                   and _first_proxy(inputs) is not None else None)
        kind = traced_kind(inputs)
        if kind is None:
            reason = (f"strict_tracer runs {what} differently from Python here: it raises "
                      f"{type(exc).__name__} while Python does not")
        else:
            reason = (f"{what} on {kind} raises {type(exc).__name__} while tracing but works on "
                      f"the example values: strict_tracer does not support it")
        return self.interp.refuse(
            Category.UNSUPPORTED_PYTHON, reason,
            hint="compute sizes with the operators strict_tracer traces (+, -, *, //, %, "
                 "comparisons), or mark the dimension static (Dim.STATIC) if it does not vary; "
                 "please report this limitation",
            standin=standin)

    def escaping(self, exc: BaseException) -> None:
        """An exception leaves an interpreted frame: remember where it was first raised."""
        if self.escaped is not None and self.escaped[0] is exc:
            return
        error = self.interp.refuse(Category.USER_ERROR, f"{type(exc).__name__}: {exc}",
                                   operands=(exc,))
        self.escaped = (exc, error)

    # ------------------------------------------------------------------ continuing
    def _continue(self, frame: "Frame", instr: Any, before: list, error: BaseException,
                  kind: str | None = None) -> str:
        """Emulate `instr`'s stack effect with stand-ins; return what was assumed."""
        name = instr.opname
        stack = frame.stack
        stack[:] = before
        frame.kwnames = None
        frame.ip = instr.index + 1
        if name in _JUMP_IF_FALSE or name in _JUMP_IF_TRUE:
            stack.pop()
            taken = self._decide_branch(frame, instr, name in _JUMP_IF_TRUE)
            if taken == (name in _JUMP_IF_TRUE):
                frame.ip = instr.arg
            return f"explain() assumed the condition is {taken} and continued"
        if name in ("JUMP_IF_FALSE_OR_POP", "JUMP_IF_TRUE_OR_POP"):
            taken = self._decide(frame, instr)
            if taken == (name == "JUMP_IF_TRUE_OR_POP"):
                frame.ip = instr.arg
            else:
                stack.pop()
            return f"explain() assumed the condition is {taken} and continued"
        if name == "FOR_ITER":
            stack[-1] = iter(())          # the version's own exhaustion path
            instr.handler(self.interp, frame, instr)
            return "explain() treated the loop as finished"
        if name == "UNARY_NOT":
            stack[-1] = not self._decide(frame, instr)
            return f"explain() assumed the operand is {not stack[-1]} and continued"
        if name in _NO_FALLTHROUGH:
            raise ExplainStop(f"{name} does not continue to a next instruction")
        n_in, n_out = _arity(instr)
        if n_in > len(stack):
            raise ExplainStop(f"cannot emulate the stack effect of {name}")
        inputs = stack[len(stack) - n_in:]
        del stack[len(stack) - n_in:]
        outputs, action = self._standins(frame, instr, n_out, inputs, error, kind)
        stack.extend(outputs)
        return action

    def _standins(self, frame: "Frame", instr: Any, n_out: int, inputs: list,
                  error: BaseException, kind: str | None) -> tuple[list, str]:
        name = instr.opname
        if n_out == 0:
            return [], "explain() skipped the instruction and continued"
        why = f"{name} at {frame.code.co_name}:{frame.lineno}"
        if instr.key in _METHOD_LOADS or (name == "LOAD_GLOBAL" and n_out == 2):
            # A callable and NULL (CALL accepts NULL on either side of the callable).
            return [NULL, StandIn(why)], "explain() continued with an opaque stand-in value"
        if kind is None:
            kind = error.standin if isinstance(error, GraphBreakError) else None
        operands = list(error.operands) if isinstance(error, GraphBreakError) else []
        proxy = _first_proxy(operands + inputs)
        if kind == "bool":
            if instr.key in _CONDITIONS:
                value = self._decide_condition(frame, instr)
                return [value] * n_out, f"explain() assumed the condition is {value} and continued"
            value = self._decide(frame, instr)
            return [value] * n_out, f"explain() assumed the value is {value} and continued"
        if proxy is not None and n_out == 1 and (
                kind == "tensor" or (kind is None and not isinstance(error, GraphBreakError)
                                     and name in _TENSOR_RESULT)):
            standin = self._tensor_standin(proxy, why)
            return [standin], (f"explain() continued with a stand-in tensor "
                               f"{proxy.meta.short_str()}")
        return ([StandIn(why) for _ in range(n_out)],
                "explain() continued with an opaque stand-in value (problems that depend on it "
                "are not reported)")

    def _decide(self, frame: "Frame", instr: Any) -> bool:
        """True the first time a branch is recovered, False afterwards (loops terminate)."""
        key = (id(frame.code), instr.offset)
        count = self.visits.get(key, 0)
        self.visits[key] = count + 1
        return count == 0

    def _decide_condition(self, frame: "Frame", instr: Any) -> bool:
        """A 3.13 condition (TO_BOOL, COMPARE_OP's bool form): decided as the conditional jump
        that follows it."""
        following = frame.instrs[instr.index + 1] if instr.index + 1 < len(frame.instrs) else None
        if following is not None and following.opname in _JUMP_IF_FALSE | _JUMP_IF_TRUE:
            return self._decide_branch(frame, following, following.opname in _JUMP_IF_TRUE)
        return self._decide(frame, instr)

    def _decide_branch(self, frame: "Frame", instr: Any, jumps_if_true: bool) -> bool:
        """`_decide`, except that a side running straight into a `raise` is not taken."""
        taken = self._decide(frame, instr)
        side = {True: instr.arg if jumps_if_true else instr.index + 1,
                False: instr.index + 1 if jumps_if_true else instr.arg}
        if _raises(frame.instrs, side[taken]) and not _raises(frame.instrs, side[not taken]):
            return not taken
        return taken

    def _tensor_standin(self, like: TensorProxy, why: str) -> TensorProxy:
        node = self.interp.state.graph.call(explain_standin, (), {}, like.meta)
        self.standin_nodes.add(node)
        return TensorProxy(node, like.meta, f"stand-in for {why}")

_library_codes: dict[int, tuple[Any, bool]] = {}     # id(code) -> (code, is library)


def _is_library(frame: "Frame") -> bool:
    code = frame.code
    known = _library_codes.get(id(code))
    if known is None:
        known = _library_codes[id(code)] = (code, is_library_file(code.co_filename))
    return known[1]


def _arity(instr: Any) -> tuple[int, int]:
    """(values popped, values pushed) by `instr` when it falls through."""
    name = instr.opname
    if name == "CALL":   # 3.11 books the arguments' pops on PRECALL; CALL takes them all
        return instr.raw_arg + 2, 1
    opcode = dis.opmap[name]
    arg = instr.raw_arg if opcode >= dis.HAVE_ARGUMENT else None
    net = dis.stack_effect(opcode, arg, jump=False)
    if instr.key in _TWO_OUTPUTS:
        n_out = 2
    elif name == "STORE_FAST_LOAD_FAST":
        n_out = 1
    elif name in _NO_OUTPUT or name.startswith(("STORE_", "DELETE_")):
        n_out = 0
    elif name == "UNPACK_SEQUENCE":
        n_out = instr.raw_arg
    elif name == "UNPACK_EX":
        n_out = (instr.raw_arg & 0xFF) + (instr.raw_arg >> 8) + 1
    elif name == "LOAD_GLOBAL":
        n_out = 1 + (instr.raw_arg & 1)
    else:
        n_out = 1
    return n_out - net, n_out


def _inputs(instr: Any, before: list) -> list | None:
    """The values `instr` consumed, from the stack copy taken before it ran."""
    name = instr.opname
    if name in _JUMP_IF_FALSE or name in _JUMP_IF_TRUE or name in (
            "FOR_ITER", "UNARY_NOT", "JUMP_IF_FALSE_OR_POP", "JUMP_IF_TRUE_OR_POP"):
        return before[-1:]
    if name in _NO_FALLTHROUGH:
        return None
    n_in, _ = _arity(instr)
    if n_in > len(before):
        return None
    return before[len(before) - n_in:] if n_in else []


def _raises(instrs: list, index: int) -> bool:
    """The straight-line code from `index` reaches a `raise` before any jump or return."""
    for instr in instrs[index:index + _LOOKAHEAD]:
        if instr.opname == "RAISE_VARARGS":
            return True
        if instr.opname in _BLOCK_ENDS:
            return False
    return False


def _first_proxy(values: list) -> TensorProxy | None:
    for value in values:
        if type(value) is TensorProxy:
            return value
        if type(value) in (tuple, list):
            for item in value:
                if type(item) is TensorProxy:
                    return item
    return None
