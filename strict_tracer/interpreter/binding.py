"""Binding a code object's instructions to their handlers, and the run loop's own codes.

The run loop (core.Interpreter._run) does the commonest instructions itself, because a Python
call per instruction is most of their cost; it does so only when the registered handler is the
standard one (a wrapped table, bench.py's counter, is used as it is). `Instr.inline` says what
the loop does with an instruction (0: call its handler), `Instr.operator` holds what that code
needs. Each code is the handler's own fast path: anything else (an unbound local, a value that
is not plain, a tensor) goes to the handler, which raises or works as it always does.

 1 LOAD_CONST                    2 LOAD_FAST / LOAD_FAST_CHECK of a bound local
 3 STORE_FAST                    4 BINARY_OP / COMPARE_OP on plain scalars (`operator`: its
                                   function; 3.13's COMPARE_OP:bool too: plain results are bool)
 5 LOAD_CONST + operator         6 / 7 forward POP_JUMP_IF_FALSE / _IF_TRUE on a bool
                                   (`operator`: the truth that jumps)
 8 FOR_ITER on a builtin iterator + the STORE_FAST after it (`operator`: its local; a FOR_ITER
   without one goes to the handler)
 9 NOP / PRECALL / RESUME
10 BINARY_SUBSCR on a dict, list or tuple (core._INDEXED)
11 / 12 a method load (NULL before / after it) from a SAFE_TYPES value
13 two LOAD_FASTs (3.13's LOAD_FAST_LOAD_FAST, or two in a row; `operator`: (first, second,
   instructions to skip))
14 LOAD_FAST + LOAD_CONST + operator (`operator`: (constant, the operator's instruction))
15 STORE_FAST + JUMP_BACKWARD    16 JUMP_BACKWARD (`operator`: the jump's target; a step)
17 LOAD_CONST + COMPARE_OP + forward POP_JUMP_IF_FALSE / _IF_TRUE (`operator`: (constant,
   the compare's instruction, the jump's)): a compare of plain scalars is a bool

Fused codes (5, 8, 13, 14, 15, 17) run an instruction and the ones after it in one step; those are
still there for jumps to them, and one that may raise (an operator: 1 / 0) is the current
instruction when it does, so tracebacks and exception handlers see it.
"""
from __future__ import annotations

from ..errors import Category
from .decode import Instr
from .handlers import call as call_handlers
from .handlers import flow as flow_handlers
from .handlers import py313 as py313_handlers
from .handlers import stack as stack_handlers
from .objects.protocols import BINARY_OPS, COMPARE_OPS
from .objects.protocols import PLAIN_SCALARS as PLAIN
from .registry import HANDLERS, REFUSED_OPCODES

_LOAD_CONST, _LOAD_FAST, _STORE_FAST, _OPERATOR, _FOR_ITER, _JUMP_BACKWARD = 1, 2, 3, 4, 8, 16
_INLINE = {stack_handlers.op_load_const: _LOAD_CONST, stack_handlers.op_load_fast: _LOAD_FAST,
           stack_handlers.op_store_fast: _STORE_FAST, call_handlers.op_binary_op: _OPERATOR,
           flow_handlers.op_compare: _OPERATOR, flow_handlers.op_compare_bool: _OPERATOR,
           flow_handlers.op_pop_jump_if_false: 6, flow_handlers.op_pop_jump_if_true: 7,
           flow_handlers.op_for_iter: _FOR_ITER, stack_handlers.op_nop: 9,
           call_handlers.op_binary_subscr: 10, call_handlers.op_load_method: 11,
           py313_handlers.op_load_method: 12, py313_handlers.op_load_fast_load_fast: 13,
           flow_handlers.op_jump_backward: _JUMP_BACKWARD}
_COMPARES = (flow_handlers.op_compare, flow_handlers.op_compare_bool)


def unsupported_opcode(interp, frame, instr: Instr):
    """The handler of an opcode nobody registered: a refusal naming it."""
    why = REFUSED_OPCODES.get(instr.key) or REFUSED_OPCODES.get(
        instr.opname, "this opcode is not implemented by strict_tracer")
    shown = instr.opname if instr.key == instr.opname else \
        f"{instr.opname} ({instr.key.partition(':')[2]})"
    raise interp.refuse(Category.UNSUPPORTED_BYTECODE, f"{shown}: {why}",
                        hint="rewrite this construct with plain synchronous Python")


def bind_handlers(instrs: list[Instr]) -> None:
    """Give every instruction its handler, its run-loop code and what the code needs."""
    for instr in instrs:
        instr.handler = handler = HANDLERS.get(instr.key, unsupported_opcode)
        instr.inline = inline = _INLINE.get(handler, 0)
        instr.operator = None       # (a rebinding, with other handlers, starts afresh)
        if inline == _OPERATOR:
            instr.operator = (BINARY_OPS[instr.raw_arg] if handler is call_handlers.op_binary_op
                              else COMPARE_OPS[instr.arg])[0]
        elif inline == 6 or inline == 7:
            instr.operator = inline == 7
        elif inline == 13:
            instr.operator = (*instr.arg, 0)
        elif inline == _JUMP_BACKWARD:
            instr.operator = instr.arg
    _fuse(instrs)


def _fuse(instrs: list[Instr]) -> None:
    """The fused codes: an instruction and the one or two after it as one step."""
    nothing = Instr(-1, "", None, 0, -1, None, "")     # past the last instruction
    for instr, following, third in zip(instrs, [*instrs[1:], nothing],
                                       [*instrs[2:], nothing, nothing]):
        inline, next_inline = instr.inline, following.inline
        if inline == _FOR_ITER:
            instr.inline, instr.operator = (_FOR_ITER, following.arg) \
                if next_inline == _STORE_FAST else (0, None)
        elif inline == _STORE_FAST and next_inline == _JUMP_BACKWARD:
            instr.inline, instr.operator = 15, following.arg
        elif inline == _LOAD_CONST and next_inline == _OPERATOR and type(instr.arg) in PLAIN:
            if following.handler in _COMPARES and third.inline in (6, 7) and \
                    third.arg > third.index:
                instr.inline, instr.operator = 17, (instr.arg, following, third)
            else:
                instr.inline = 5
        elif inline != _LOAD_FAST:
            continue
        elif next_inline == _LOAD_CONST and third.inline == _OPERATOR and \
                type(following.arg) in PLAIN:
            instr.inline, instr.operator = 14, (following.arg, third)
        elif next_inline == _LOAD_FAST:
            instr.inline, instr.operator = 13, (instr.arg, following.arg, 1)
