"""The interpreter: frame stack, run loop, exception unwinding, refusals.

Handlers live in handlers/, grouped by opcode family (registry.HANDLERS); each is a function
`handler(interp, frame, instr)` that returns True only when the frame returns or yields.
The call policy, attribute protocol and operator protocols live in their own modules and are
reached through methods of `Interpreter` so handlers stay small.
"""
from __future__ import annotations

import linecache
import types
from typing import Any

import torch
import torch.fx.traceback as fx_traceback

from ..context import MAX_DEPTH
from ..errors import Category, GraphBreakError, Location, StrictTracerError
from .diagnostics import diagnose
from ..symbolic import DataDependentError
from .objects.attributes import AttributesMixin
from .calls.policy import CallsMixin
from .decode import Instr
from .node_stack import NodeStack
from .frame import NULL, UNBOUND, Frame, is_async_code, is_generator_code, make_frame
from .binding import bind_handlers
from .objects.protocols import PURE_ITERATORS, SAFE_TYPES
from .objects.protocols import PLAIN_SCALARS as PLAIN
from .calls.guard import NativeGuard
from .calls.library import NATIVE_LIBRARY_FUNCTIONS, reaches_proxy
from .calls.nn_modules import Modules
from .objects.containers import ContainersMixin
from .objects.protocols import ProtocolsMixin
from .tensors.tensor_methods import Tensors
from .objects.tracebacks import Tracebacks
from .objects.text import Text

# Loop iterations (backward jumps) plus interpreted calls one export may run, so that no
# program makes export run unbounded (`while True: pass` grows no graph). Real models use far
# fewer (the benchmark zoo and tiny Hugging Face models: under 600); 2M steps is 2-15 s of
# pure Python loops here.
MAX_STEPS = 2_000_000


# (container type, key type) that BINARY_SUBSCR's containers.subscr answers directly with
# container[key]: a dict with a plain key, a list or tuple with an exact int index.
_INDEXED = frozenset({(dict, key) for key in PLAIN} | {(list, int), (tuple, int)})
_EXHAUSTED = object()


def _fx_annotation() -> dict[str, Any]:
    """`with torch.fx.traceback.annotate({...}):` in forward (under preserve_node_meta()):
    the nodes made inside carry the annotation as meta["custom"], as torch.export's do."""
    if fx_traceback.has_preserved_node_meta():
        custom = fx_traceback.current_meta.get("custom")
        if custom:
            return {"custom": dict(custom)}
    return {}


class Interpreter(CallsMixin, ProtocolsMixin, ContainersMixin, AttributesMixin):
    """Runs Python functions bytecode by bytecode against a TraceState."""

    def __init__(self, state, explain: Any = None) -> None:
        from .diagnostics.observe import make_observer
        self.state = state
        self.frames: list[Frame] = []
        self.current_exc: BaseException | None = None
        self.propagating: BaseException | None = None    # re-raised / escaping a callee frame
        self.steps = 0          # backward jumps + frames entered, bounded by MAX_STEPS
        self._escapes: dict[int, tuple[BaseException, list[str]]] = {}
        self.tracebacks = Tracebacks(self)     # the program's exc.__traceback__
        self.guard = NativeGuard(self.refuse)   # runs natives for real (calls/guard.py)
        self.modules = Modules(self)     # nn.Module calls and attributes (calls/nn_modules.py)
        self.tensors = Tensors(self)     # tensor ops and attributes, the ops.Emitter (tensors/)
        self.text = Text(self)     # str/repr/format of the program's values (objects/text.py)
        # The outermost frame run: errors raised after forward() returned point at its return.
        self.outer_frame: Frame | None = None
        # The bytecode log and explain mode run frames in their own loop (observe.py).
        self.observer = make_observer(self, explain)
        self.node_stack = NodeStack()     # the frames' share of node metadata (node_stack.py)
        state.graph.node_metadata = self.node_metadata
        state.shape_env.provenance = self.current_location

    # ------------------------------------------------------------------ node metadata
    def node_metadata(self) -> dict[str, Any]:
        """Metadata torch.export records on every node: source stack and module stack."""
        text, positions, where = self.node_stack.snapshot(self.frames, self.state.stack_traces)
        retraced = self.state.retraced
        original = {} if retraced is None or not positions else \
            retraced.metadata(*positions[-1])
        return {"stack_trace": text,
                "nn_module_stack": self.state.nn_module_stack(),
                **self.state.node_source_fn(), **original, **_fx_annotation(),
                "st_grad": (self.state.grad_enabled, self.state.grad_region),
                "st_autocast": self.state.autocast.region,
                "st_where": where}

    # ------------------------------------------------------------------ running frames
    def inline(self, func: types.FunctionType, args: tuple, kwargs: dict) -> Any:
        """Call a Python function by interpreting its bytecode."""
        if func in NATIVE_LIBRARY_FUNCTIONS and not reaches_proxy((args, kwargs)):
            ran, result = self.guard.try_native(func, args, kwargs)    # library.py: pure stdlib
            if ran:
                return result
        code = func.__code__
        if is_async_code(code):
            raise self.refuse(Category.UNSUPPORTED_PYTHON,
                              f"coroutine/async function {func.__qualname__} is not supported",
                              hint="call a synchronous function from forward()", operands=args)
        frame = make_frame(func, args, kwargs)
        if is_generator_code(code):
            from .objects.generators import InterpretedGenerator
            return InterpretedGenerator(self, frame)
        return self.run_frame(frame)

    def run_frame(self, frame: Frame) -> Any:
        """Run `frame` until it returns (or yields, for generator frames)."""
        if self.observer is not None:
            return self.observer.run_frame(frame)
        self.push_frame(frame)
        try:
            return self._run(frame)
        finally:
            self.frames.pop()

    # The codes binding.py gives instructions, tested commonest first in two groups (< 8 and
    # the rest); an instruction whose test fails goes to its handler. frame.ip is written before
    # a handler runs, and by _raised (`instr` is then the instruction that raised).
    def _run(self, frame: Frame) -> Any:
        instrs, stack, localsplus, ip = frame.instrs, frame.stack, frame.localsplus, frame.ip
        while True:
            ip, inline = ip + 1, (instr := instrs[ip]).inline
            try:
                if inline < 8:
                    if inline == 1:
                        stack.append(instr.arg)
                    elif inline == 4 and type(a := stack[-2]) in PLAIN and type(b := stack[-1]) in PLAIN:
                        del stack[-1]
                        stack[-1] = instr.operator(a, b)
                    elif inline == 5 and type(a := stack[-1]) in PLAIN:
                        b, instr, ip = instr.arg, instrs[ip], ip + 1    # the operator's instruction
                        stack[-1] = instr.operator(a, b)
                    elif inline == 2 and (value := localsplus[instr.arg]) is not UNBOUND:
                        stack.append(value)
                    elif inline == 3:
                        localsplus[instr.arg] = stack.pop()
                    elif inline > 5 and type(stack[-1]) is bool and instr.arg > ip:
                        ip = instr.arg if stack.pop() is instr.operator else ip
                    else:
                        frame.ip = ip
                        if instr.handler(self, frame, instr):
                            return frame.retval
                        ip = frame.ip
                elif inline == 13 and (a := localsplus[(pair := instr.operator)[0]]) is not UNBOUND \
                        and (b := localsplus[pair[1]]) is not UNBOUND:
                    stack += (a, b)
                    ip += pair[2]
                elif inline == 14 and type(a := localsplus[instr.arg]) in PLAIN:
                    (b, instr), ip = instr.operator, ip + 2
                    stack.append(instr.operator(a, b))
                elif inline > 14 and inline < 17 and self.steps < MAX_STEPS:
                    if inline == 15:
                        localsplus[instr.arg] = stack.pop()
                    ip, self.steps = instr.operator, self.steps + 1
                elif inline == 8 and type(stack[-1]) in PURE_ITERATORS:
                    if (value := next(stack[-1], _EXHAUSTED)) is _EXHAUSTED:
                        del stack[-1]
                        ip = instr.arg
                    else:
                        localsplus[instr.operator] = value
                        ip += 1
                elif inline == 17 and type(a := stack[-1]) in PLAIN:
                    (b, instr, jump), ip = instr.operator, ip + 1
                    ip = jump.arg if instr.operator(stack.pop(), b) is jump.operator else ip + 1
                elif inline > 10 and inline < 13 and type(value := stack[-1]) in SAFE_TYPES:
                    stack[-1] = NULL if inline == 11 else getattr(value, instr.arg)
                    stack.append(getattr(value, instr.arg) if inline == 11 else NULL)
                elif inline == 10 and (type(stack[-2]), type(value := stack[-1])) in _INDEXED:
                    del stack[-1]
                    stack[-1] = stack[-1][value]
                elif inline != 9:
                    frame.ip = ip
                    if instr.handler(self, frame, instr):
                        return frame.retval
                    ip = frame.ip
            except (Exception, GeneratorExit) as exc:
                ip = self._raised(frame, instr, exc)

    def _raised(self, frame: Frame, instr: Instr, exc: BaseException) -> int:
        """`instr` raised `exc`: a refusal (located) or a data-dependent question leaves the
        run; any other exception goes to the frame's handler covering `instr`, if any, whose
        instruction index is returned. (Handlers change frame.ip only after all that raises.)"""
        frame.ip = instr.index + 1
        if isinstance(exc, StrictTracerError):
            if isinstance(exc, GraphBreakError) and not exc.located:
                self.locate(exc)      # raised where no refuse() located it
            raise exc
        if isinstance(exc, DataDependentError):
            raise self.tensors.data_dependent(str(exc), exc) from None
        if not self.unwind(frame, instr, exc):
            raise exc
        return frame.ip

    def push_frame(self, frame: Frame) -> None:
        if frame.instrs[0].handler is None:
            bind_handlers(frame.instrs)
        self.count_step()
        if len(self.frames) >= MAX_DEPTH:
            raise RecursionError(
                f"maximum recursion depth exceeded (strict_tracer interprets at most {MAX_DEPTH} "
                "nested Python calls, CPython's default limit)")
        if not self.frames:
            self.outer_frame = frame
        self.frames.append(frame)

    def count_step(self) -> None:
        """One loop iteration or call; past MAX_STEPS the export is refused where it is."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise self.refuse(
                Category.UNSUPPORTED_PYTHON,
                f"the program ran more than {MAX_STEPS:,} loop iterations and calls (strict_tracer's "
                "limit: a loop that does not end, or unbounded recursion)",
                hint="bound the loop by sizes or constants the program knows at export time")

    def unwind(self, frame: Frame, instr: Instr, exc: BaseException) -> bool:
        """Jump to the exception handler covering `instr`, if there is one."""
        if exc is not self.propagating:
            self.chain_context(exc)
        self.tracebacks.note(exc, frame, instr, self.propagating)
        target = frame.decoded.handlers[instr.index]
        if target is None:
            self.record_escape(exc, frame)
            return False
        self.propagating = None
        self._escapes.pop(id(exc), None)
        del frame.stack[target.depth:]
        if target.push_lasti:
            frame.stack.append(instr.index)
        frame.stack.append(exc)
        frame.ip = target.target
        return True

    # ------------------------------------------------------------------ exception bookkeeping
    def chain_context(self, exc: BaseException) -> None:
        """Implicit chaining (`__context__`) of an exception raised while another is handled,
        as _PyErr_SetObject does: a new cycle through the context chain is broken, one the
        program made itself is walked once (tortoise and hare) and left as it is."""
        handled = self.current_exc
        if handled is None or handled is exc:
            return
        node = slow = handled
        advance_slow = False
        while True:
            context_ = node.__context__
            if context_ is None:
                break
            if context_ is exc:
                node.__context__ = None
                break
            node = context_
            if node is slow:
                break       # a cycle the program made itself: every link was checked
            if advance_slow:
                slow = slow.__context__
            advance_slow = not advance_slow
        exc.__context__ = handled

    def record_escape(self, exc: BaseException, frame: Frame) -> None:
        """`exc` leaves interpreted `frame`: remember where (a traceback entry). The notes are
        added only when it leaves the outermost frame, so the program never sees them."""
        self.propagating = exc
        entry = self._escapes.get(id(exc))
        if entry is None or entry[0] is not exc:
            entry = self._escapes[id(exc)] = (exc, [])
        lineno = frame.lineno
        line = linecache.getline(frame.code.co_filename, lineno).strip() if lineno else ""
        entry[1].append(f'  (strict_tracer) File "{frame.code.co_filename}", line {lineno}, in '
                        f'{frame.code.co_name}: {line}')
        if len(self.frames) <= 1:
            self._escapes.clear()
            notes = getattr(exc, "__notes__", None) or []
            for note in entry[1]:
                if note not in notes:
                    try:
                        exc.add_note(note)
                    except Exception:  # exceptions that refuse notes (rare C types)
                        break

    # ------------------------------------------------------------------ refusals
    def refuse(self, category: str, reason: str, hint: str = "", operands: tuple = (),
               standin: str | None = None,
               error_class: type[GraphBreakError] = GraphBreakError) -> GraphBreakError:
        """Build (not raise) a GraphBreakError located at the current instruction.

        `operands` are the values the refused operation received (shown with the stack);
        `standin` tells explain() what the failing instruction would have produced: "tensor"
        (a proxy like the first tensor operand), "bool" (a branch decision) or None (opaque).
        """
        error = error_class(category, reason, hint=hint, operands=tuple(operands),
                            standin=standin)
        self.locate(error)
        return error

    def locate(self, error: GraphBreakError) -> None:
        """Fill in where `error` happened: frames, instruction, bytecode window, stack."""
        diagnose.locate(self, error)
        error.args = (error.render(),)
        error.msg = error.args[0]

    def current_location(self) -> Location | None:
        """Provenance of guards and specializations: the user location being executed."""
        return diagnose.current_location(self)
