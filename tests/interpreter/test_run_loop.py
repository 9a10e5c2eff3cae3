"""The run loop's own codes (interpreter/binding.py) on every supported version: which
instructions it fuses, where an exhausted FOR_ITER continues, the step limit through fused
jumps, and the CALL handler's direct call of a read-only builtin method. Their values and
exceptions are compared with CPython by the corpus (corpus/py_fused.py)."""
import dis

import pytest

from strict_tracer import GraphBreakError
from strict_tracer.interpreter import HANDLERS, REFUSED_OPCODES, core, versions
from strict_tracer.interpreter import decode as decode_module
from strict_tracer.interpreter.registry import SPECIAL
from strict_tracer.interpreter.standalone import run_python


def _loop(n):
    total, table = 0, {"a": 1, "b": 2}
    for i in range(n):
        if i % 3 == 0:
            total += table["a"] * i
        else:
            total -= (i >> 1) + table.get("b", 0)
    k = 0
    while k < n:
        k += 1
    return total, k


def _codes(fn) -> dict[str, set[int]]:
    codes: dict[str, set[int]] = {}
    for instr in decode_module.decode(fn.__code__).instrs:
        codes.setdefault(instr.opname, set()).add(instr.inline)
    return codes


def test_the_same_instructions_are_fused_on_every_version():
    """FOR_ITER + STORE_FAST (3.11 only before), LOAD_FAST + LOAD_CONST + operator, LOAD_CONST
    + compare + jump, STORE_FAST + JUMP_BACKWARD, two LOAD_FASTs (3.13: its superinstruction)."""
    assert run_python(_loop, 10) == _loop(10)
    codes = _codes(_loop)
    assert codes["FOR_ITER"] == {8}
    assert 14 in codes["LOAD_FAST"]         # i % 3, i >> 1
    assert 17 in codes["LOAD_CONST"]        # == 0 and the jump
    assert 15 in codes["STORE_FAST"]        # total += ...; the jump back
    pairs = codes.get("LOAD_FAST_LOAD_FAST", set()) | codes["LOAD_FAST"]
    assert 13 in pairs


def test_an_exhausted_for_iter_continues_where_cpython_does():
    """3.12 skips END_FOR, 3.13 END_FOR and POP_TOP (ceval's JUMPBY): the decoded target is
    the instruction after them, so END_FOR itself is never run (it is refused)."""
    skipped = {(3, 11): [], (3, 12): ["END_FOR"], (3, 13): ["END_FOR", "POP_TOP"]}[versions.PY]
    real = list(dis.get_instructions(_loop))
    decoded = decode_module.decode(_loop.__code__).instrs
    loops = [(i, real[i].argval) for i in range(len(real)) if real[i].opname == "FOR_ITER"]
    assert len(loops) == 1
    for index, target in loops:
        at = next(j for j, ins in enumerate(real) if ins.offset == target)
        assert [ins.opname for ins in real[at:at + len(skipped)]] == skipped
        assert decoded[index].opname == "FOR_ITER"
        assert decoded[decoded[index].arg].offset == real[at + len(skipped)].offset
    if skipped:
        assert "END_FOR" in REFUSED_OPCODES and "END_FOR" not in HANDLERS


def _counting_forever():
    n = 0
    while True:
        n += 1          # STORE_FAST + JUMP_BACKWARD


def _calling_forever(out):
    while True:
        out.append(1)   # POP_TOP, then a JUMP_BACKWARD of its own


@pytest.mark.parametrize("fn, args", [(_counting_forever, ()), (_calling_forever, ([],))])
def test_fused_and_bare_backward_jumps_count_steps(monkeypatch, fn, args):
    monkeypatch.setattr(core, "MAX_STEPS", 2_000)
    with pytest.raises(GraphBreakError, match="more than 2,000 loop iterations and calls"):
        run_python(fn, *args)


def _get(table, key):
    return table.get(key, "missing")


def test_a_handler_of_one_bound_read_method_wins_over_the_direct_call():
    """The CALL handler calls a read-only builtin method of a plain value itself once classify
    decided so for its (type, name), except a bound method SPECIAL handles."""
    table, other = {"k": 1}, {"k": 2}
    assert run_python(_get, other, "k") == 2        # dict.get decided: a direct read
    SPECIAL[table.get] = lambda interp, args, kwargs: ("special", args)
    try:
        assert run_python(_get, table, "k") == ("special", ("k", "missing"))
        assert run_python(_get, other, "k") == 2
    finally:
        del SPECIAL[table.get]
    assert run_python(_get, table, "k") == 1
