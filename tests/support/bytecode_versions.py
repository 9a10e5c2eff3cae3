"""How the running CPython (3.11, 3.12 or 3.13) lays out the constructs the random-bytecode
assemblers emit: the instruction sequences its compiler would produce, so the fuzzers test each
version's own bytecode against that version's CPython."""
from __future__ import annotations

import sys

import bytecode as bc

I = bc.Instr
PY = sys.version_info[:2]
PY312 = PY >= (3, 12)
PY313 = PY >= (3, 13)


def jump_if(truth: bool, target: bc.Label, coerce: bool = True) -> list:
    """Pop the top and jump to `target` when its truth is `truth` (a forward jump). 3.13's
    conditional jumps take exact bools: the compiler puts TO_BOOL before them."""
    if not PY312:
        return [I("POP_JUMP_FORWARD_IF_TRUE" if truth else "POP_JUMP_FORWARD_IF_FALSE", target)]
    prefix = [I("TO_BOOL")] if PY313 and coerce else []
    return prefix + [I("POP_JUMP_IF_TRUE" if truth else "POP_JUMP_IF_FALSE", target)]


def jump_if_not_none(target: bc.Label) -> list:
    return [I("POP_JUMP_IF_NOT_NONE" if PY312 else "POP_JUMP_FORWARD_IF_NOT_NONE", target)]


def short_circuit(or_: bool, end: bc.Label) -> list:
    """`a and b` / `a or b` after `a`: keep `a` and jump when it decides (3.11's
    JUMP_IF_*_OR_POP; 3.12 copies, tests and pops)."""
    if not PY312:
        return [I("JUMP_IF_TRUE_OR_POP" if or_ else "JUMP_IF_FALSE_OR_POP", end)]
    return [I("COPY", 1), *jump_if(or_, end), I("POP_TOP")]


def unary(opname: str) -> list:
    if opname == "UNARY_POSITIVE" and PY312:
        return [I("CALL_INTRINSIC_1", bc.Intrinsic1Op.INTRINSIC_UNARY_POSITIVE)]
    if opname == "UNARY_NOT" and PY313:
        return [I("TO_BOOL"), I("UNARY_NOT")]
    return [I(opname)]


def list_to_tuple() -> list:
    if PY312:
        return [I("CALL_INTRINSIC_1", bc.Intrinsic1Op.INTRINSIC_LIST_TO_TUPLE)]
    return [I("LIST_TO_TUPLE")]


def slice_of(start, stop) -> list:
    """container[start:stop] with constant bounds, the container on the stack."""
    if PY312:
        return [I("LOAD_CONST", start), I("LOAD_CONST", stop), I("BINARY_SLICE")]
    return [I("LOAD_CONST", start), I("LOAD_CONST", stop), I("BUILD_SLICE", 2), I("BINARY_SUBSCR")]


def call(argc: int) -> list:
    return [I("CALL", argc)] if PY312 else [I("PRECALL", argc), I("CALL", argc)]


def call_kw(argc: int, names: tuple) -> list:
    if PY313:
        return [I("LOAD_CONST", names), I("CALL_KW", argc)]
    return [I("KW_NAMES", names), *call(argc)]


def load_method(name: str) -> list:
    return [I("LOAD_ATTR", (True, name))] if PY312 else [I("LOAD_METHOD", name)]


def loop_end(exhausted: bc.Label, after: bc.Label) -> list:
    """After a for loop's JUMP_BACKWARD: where FOR_ITER jumps when the iterator is exhausted
    (`exhausted`) and where `break` (which pops the iterator itself) jumps (`after`)."""
    if PY313:
        return [exhausted, I("END_FOR"), I("POP_TOP"), after]
    if PY312:
        return [exhausted, I("END_FOR"), after]
    return [exhausted, after]


def make_function(code, defaults: tuple | None) -> list:
    """Push the function for `code` (with positional defaults), then NULL as a call needs it
    (3.11/3.12 push NULL before the callable, 3.13 after it)."""
    out = [] if PY313 else [I("PUSH_NULL")]
    if defaults:
        out.append(I("LOAD_CONST", defaults))
    if PY313:
        out += [I("LOAD_CONST", code), I("MAKE_FUNCTION")]
        if defaults:
            out.append(I("SET_FUNCTION_ATTRIBUTE", 1))
        return out + [I("PUSH_NULL")]
    return out + [I("LOAD_CONST", code), I("MAKE_FUNCTION", 1 if defaults else 0)]


def load_pair(a: str, b: str) -> list:
    """Push two locals (3.13's compiler fuses the loads)."""
    if PY313:
        return [I("LOAD_FAST_LOAD_FAST", (a, b))]
    return [I("LOAD_FAST", a), I("LOAD_FAST", b)]


def store_pair(a: str, b: str) -> list:
    """Store the top into `a`, then the next into `b` (3.13 fuses the stores)."""
    if PY313:
        return [I("STORE_FAST_STORE_FAST", (a, b))]
    return [I("STORE_FAST", a), I("STORE_FAST", b)]
