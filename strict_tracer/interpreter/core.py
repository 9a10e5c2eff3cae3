"""The interpreter: frame stack, run loop, exception unwinding, refusals.

Handlers live in handlers/, grouped by opcode family (registry.HANDLERS); each is a function
`handler(interp, frame, instr)` that returns True only when the frame returns or yields.
The call policy, attribute protocol and operator protocols live in their own modules and are
reached through methods of `Interpreter` so handlers stay small.
"""
from __future__ import annotations

import linecache
import os
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
from .frame import NULL, UNBOUND, Frame, is_async_code, is_generator_code, make_frame
from .handlers import call as call_handlers
from .handlers import flow as flow_handlers
from .handlers import py313 as py313_handlers
from .handlers import stack as stack_handlers
from .objects.protocols import BINARY_OPS, COMPARE_OPS, PURE_ITERATORS, SAFE_TYPES
from .objects.protocols import PLAIN_SCALARS as PLAIN
from .calls.guard import NativeGuard
from .calls.library import NATIVE_LIBRARY_FUNCTIONS, reaches_proxy
from .calls.nn_modules import Modules
from .objects.containers import ContainersMixin
from .objects.protocols import ProtocolsMixin
from .tensors.tensor_methods import Tensors
from .objects.tracebacks import Tracebacks
from .objects.text import Text
from .registry import HANDLERS, REFUSED_OPCODES

# Frames of torch's own code (nn.Module forwards, functional wrappers) are not shown in node
# stack traces, as in torch.export's: a node's trace ends at the user's line.
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
# Loop iterations (backward jumps) plus interpreted calls one export may run, so that no
# program makes export run unbounded (`while True: pass` grows no graph). Real models use far
# fewer (the benchmark zoo and tiny Hugging Face models: under 600); 2M steps is 2-15 s of
# pure Python loops here.
MAX_STEPS = 2_000_000


def _unsupported_opcode(interp: "Interpreter", frame: Frame, instr: Instr):
    why = REFUSED_OPCODES.get(instr.key) or REFUSED_OPCODES.get(
        instr.opname, "this opcode is not implemented by strict_tracer")
    shown = instr.opname if instr.key == instr.opname else \
        f"{instr.opname} ({instr.key.partition(':')[2]})"
    raise interp.refuse(Category.UNSUPPORTED_BYTECODE, f"{shown}: {why}",
                        hint="rewrite this construct with plain synchronous Python")


# The run loop does the commonest instructions itself (a Python call per instruction is
# most of their cost), when the registered handler is the standard one (so a wrapped table,
# bench.py's counter, is used as it is): 1 LOAD_CONST, 2 LOAD_FAST (a bound local),
# 3 STORE_FAST, and, on plain values only (anything else goes to the handler), 4 BINARY_OP
# or COMPARE_OP on plain scalars (`operator`: its function), 5 (see _fuse) a plain LOAD_CONST
# and the operator after it, 6 a forward POP_JUMP_IF_FALSE / 7 _IF_TRUE on a bool,
# 8 JUMP_BACKWARD (a step), 9 FOR_ITER on a builtin iterator, 10 PRECALL/NOP,
# 11 BINARY_SUBSCR (see _INDEXED) and 12/13 a method load (NULL before/after it) from a
# SAFE_TYPES value, which load_attr answers with getattr. Handlers' instructions are 0.
_INLINE = {stack_handlers.op_load_const: 1, stack_handlers.op_load_fast: 2,
           stack_handlers.op_store_fast: 3, call_handlers.op_binary_op: 4,
           flow_handlers.op_compare: 4, flow_handlers.op_pop_jump_if_false: 6,
           flow_handlers.op_pop_jump_if_true: 7, flow_handlers.op_jump_backward: 8,
           flow_handlers.op_for_iter: 9, stack_handlers.op_nop: 10,
           call_handlers.op_binary_subscr: 11, call_handlers.op_load_method: 12,
           py313_handlers.op_load_method: 13}
# (container type, key type) that BINARY_SUBSCR's containers.subscr answers directly with
# container[key]: a dict with a plain key, a list or tuple with an exact int index.
_INDEXED = frozenset({(dict, key) for key in PLAIN} | {(list, int), (tuple, int)})
_EXHAUSTED = object()


def _bind_handlers(frame: Frame) -> None:
    for instr in frame.instrs:
        instr.handler = handler = HANDLERS.get(instr.key, _unsupported_opcode)
        instr.inline = inline = _INLINE.get(handler, 0)
        instr.operator = None       # (a rebinding, with other handlers, starts afresh)
        if inline == 4:
            instr.operator = (BINARY_OPS[instr.raw_arg] if handler is call_handlers.op_binary_op
                              else COMPARE_OPS[instr.arg])[0]
    _fuse(frame.instrs)


def _fuse(instrs: list[Instr]) -> None:
    """Pairs the run loop does in one step (the second instruction is still there for jumps
    to it): `x % 3`, `i == 0`, a LOAD_CONST of a plain scalar and the BINARY_OP or COMPARE_OP
    after it when the other operand is plain too (code 5; the operator's instruction raises,
    as it would); `for i in ...`, a FOR_ITER and the STORE_FAST after it (`operator`: the
    local)."""
    for instr, following in zip(instrs, instrs[1:]):
        if instr.inline == 1 and following.inline == 4 and type(instr.arg) in PLAIN:
            instr.inline = 5
        elif instr.inline == 9 and following.inline == 3:
            instr.operator = following.arg


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
        state.graph.node_metadata = self.node_metadata
        state.shape_env.provenance = self.current_location

    # ------------------------------------------------------------------ node metadata
    def node_metadata(self) -> dict[str, Any]:
        """Metadata torch.export records on every node: source stack and module stack."""
        parts, positions = [], []
        for frame in self.frames:
            lineno = frame.lineno
            positions.append((frame.code, lineno))
            entry = frame.decoded.stack_entries.get(lineno)
            parts.append(_stack_entry(frame, lineno) if entry is None else entry)
        retraced = self.state.retraced
        original = {} if retraced is None or not positions else \
            retraced.metadata(*positions[-1])
        return {"stack_trace": "".join(parts), "nn_module_stack": self.state.nn_module_stack(),
                **self.state.node_source_fn(), **original, **_fx_annotation(),
                "st_grad": (self.state.grad_enabled, self.state.grad_region),
                "st_autocast": self.state.autocast.region,
                "st_where": diagnose.TraceLocation.snapshot(self.frames, tuple(positions))}

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

    def _run(self, frame: Frame) -> Any:
        instrs, stack, localsplus, ip = frame.instrs, frame.stack, frame.localsplus, frame.ip
        while True:
            ip, inline = ip + 1, (instr := instrs[ip]).inline
            try:
                if inline == 2 and (value := localsplus[instr.arg]) is not UNBOUND:
                    stack.append(value)
                    continue
                elif inline == 1:
                    stack.append(instr.arg)
                    continue
                elif inline == 3:
                    localsplus[instr.arg] = stack.pop()
                    continue
                elif inline == 4:
                    if type(a := stack[-2]) in PLAIN and type(b := stack[-1]) in PLAIN:
                        frame.ip = ip       # 1 / 0 raises here as in the handler
                        del stack[-1]
                        stack[-1] = instr.operator(a, b)
                        continue
                elif inline == 5 and type(value := stack[-1]) in PLAIN:
                    const, instr = instr.arg, instrs[ip]    # the operator's instruction
                    frame.ip = ip = ip + 1
                    stack[-1] = instr.operator(value, const)
                    continue
                elif inline < 8 and inline > 5 and type(stack[-1]) is bool and instr.arg > ip:
                    ip = instr.arg if stack.pop() is (inline == 7) else ip
                    continue
                elif inline == 8 and self.steps < MAX_STEPS:
                    ip, self.steps = instr.arg, self.steps + 1
                    continue
                elif inline == 9 and type(stack[-1]) in PURE_ITERATORS:
                    frame.ip = ip           # a dict that changed size raises here
                    if (value := next(stack[-1], _EXHAUSTED)) is _EXHAUSTED:
                        del stack[-1]
                        ip = instr.arg
                    elif instr.operator is None:
                        stack.append(value)
                    else:                   # and the STORE_FAST after it (_fuse)
                        localsplus[instr.operator] = value
                        ip += 1
                    continue
                elif inline == 10:
                    continue
                elif inline == 11 and (type(stack[-2]), type(value := stack[-1])) in _INDEXED:
                    frame.ip = ip           # a missing key or index raises here
                    del stack[-1]
                    stack[-1] = stack[-1][value]
                    continue
                elif inline > 11 and type(value := stack[-1]) in SAFE_TYPES:
                    frame.ip = ip           # so does a missing attribute
                    stack[-1] = NULL if inline == 12 else getattr(value, instr.arg)
                    stack.append(getattr(value, instr.arg) if inline == 12 else NULL)
                    continue
                frame.ip = ip
                if instr.handler(self, frame, instr):
                    return frame.retval
            except (Exception, GeneratorExit) as exc:
                self._raised(frame, instr, exc)
            ip = frame.ip

    def _raised(self, frame: Frame, instr: Instr, exc: BaseException) -> None:
        """`instr` raised `exc`: a refusal (located) or a data-dependent question leaves the
        run; any other exception goes to the frame's handler covering `instr`, if any."""
        if isinstance(exc, StrictTracerError):
            if isinstance(exc, GraphBreakError) and not exc.located:
                self.locate(exc)      # raised where no refuse() located it
            raise exc
        if isinstance(exc, DataDependentError):
            raise self.tensors.data_dependent(str(exc), exc) from None
        if not self.unwind(frame, instr, exc):
            raise exc

    def push_frame(self, frame: Frame) -> None:
        if frame.instrs[0].handler is None:
            _bind_handlers(frame)
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


def _stack_entry(frame: Frame, lineno: int | None) -> str:
    """One entry of a node's stack_trace ("" for torch's own frames), made once per line of
    a code object (every node of a layer repeats its module's lines)."""
    code = frame.code
    if code.co_filename.startswith(_TORCH_DIR):
        entry = ""
    else:
        source = linecache.getline(code.co_filename, lineno).strip() if lineno else ""
        entry = f'  File "{code.co_filename}", line {lineno}, in {code.co_name}\n    {source}\n'
    frame.decoded.stack_entries[lineno] = entry
    return entry
