"""What the running CPython's bytecode looks like where a test expects a refusal or a guard:
tests compute the expected instruction from `dis` instead of naming one version's opcodes."""
from __future__ import annotations

import dis
import types


def _code(fn) -> types.CodeType:
    return getattr(fn, "__code__", fn)


def truth_test(fn, lineno: int | None = None) -> dis.Instruction:
    """The instruction of `fn` (on `lineno`, if given) where the running CPython takes the
    truth of a branch condition: the conditional jump (3.11, 3.12), or in 3.13 the TO_BOOL or
    the bool-converting COMPARE_OP before it."""
    for ins in dis.get_instructions(_code(fn)):
        if lineno is not None and (ins.positions is None or ins.positions.lineno != lineno):
            continue
        if ins.opname == "TO_BOOL" or (ins.opname == "COMPARE_OP" and ins.argrepr.startswith("bool(")):
            return ins
        if ins.opname.startswith("POP_JUMP") and "NONE" not in ins.opname:
            return ins
    raise AssertionError(f"no branch in {fn!r} at line {lineno}")


def branch_opname(condition: str) -> str:
    """The opname that tests `if <condition>:` (a refusal or guard on a branch shows it)."""
    namespace: dict = {}
    exec(compile(f"def f(x, n):\n    if {condition}:\n        return 1\n    return 0\n",
                 "<branch>", "exec"), namespace)
    return truth_test(namespace["f"]).opname


def find(fn, predicate) -> dis.Instruction:
    """The first instruction of `fn` that satisfies `predicate`."""
    for ins in dis.get_instructions(_code(fn)):
        if predicate(ins):
            return ins
    raise AssertionError(f"no such instruction in {fn!r}")


def shown(ins: dis.Instruction) -> str:
    """`OPNAME arg (argrepr)` as strict_tracer's bytecode windows render an instruction (jump
    targets as offsets, as 3.11/3.12's dis writes them)."""
    argrepr = ins.argrepr
    target = getattr(ins, "jump_target", None)
    if target is not None:
        argrepr = f"to {target}"
    if ins.arg is None:
        return f"{ins.opname} {argrepr}".rstrip()
    return f"{ins.opname} {ins.arg} ({argrepr})" if argrepr else f"{ins.opname} {ins.arg}"
