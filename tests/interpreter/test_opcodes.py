"""Every opcode of the running CPython (3.11, 3.12 or 3.13) is handled or deliberately refused,
and the handled ones are all executed by the differential corpus (so each handler is checked
against CPython)."""
import copy
import dis

import pytest

from corpus.support import collect
from strict_tracer import Category, GraphBreakError
from strict_tracer.interpreter import HANDLERS, REFUSED_OPCODES
from strict_tracer.interpreter import decode as decode_module
from strict_tracer.interpreter import versions
from strict_tracer.interpreter.standalone import run_python

ASYNC_OPCODES = {"GET_AWAITABLE", "GET_AITER", "GET_ANEXT", "END_ASYNC_FOR", "BEFORE_ASYNC_WITH"}
# Opcodes the compiler emits only in contexts the corpus cannot run under CPython and the
# interpreter alike: module-level star imports, interactive mode, and no-ops.
NOT_EXECUTED = ASYNC_OPCODES | {"IMPORT_STAR", "PRINT_EXPR", "CACHE", "EXTENDED_ARG", "NOP",
                                "ASYNC_GEN_WRAP"}
# Emitted only inside PEP 695 annotation scopes (refused): checked on hand-assembled bytecode
# against CPython by test_opcodes_versions.py.
NOT_EXECUTED |= {"LOAD_FROM_DICT_OR_GLOBALS"}


def _dispatch_keys() -> set[str]:
    """Every dispatch key the running version's instructions can decode to."""
    return {key for name in dis.opmap for key in decode_module.keys_of(name)}


def test_every_opcode_is_handled_or_refused():
    unknown = [key for key in _dispatch_keys() if key not in HANDLERS and key not in REFUSED_OPCODES
               and key.partition(":")[0] not in REFUSED_OPCODES]
    assert unknown == []
    assert not set(HANDLERS) & set(REFUSED_OPCODES)
    assert ASYNC_OPCODES <= set(REFUSED_OPCODES)
    for name, why in REFUSED_OPCODES.items():
        assert why and name in _dispatch_keys()


def test_handlers_are_for_this_version_only():
    """A handler registered for an opcode this version does not have is a version-range
    mistake (the table must be exactly this version's)."""
    assert sorted(set(HANDLERS) - _dispatch_keys()) == []


@pytest.mark.skipif(versions.PY < (3, 12), reason="3.11 has no intrinsics")
def test_intrinsic_names_match_cpython():
    assert decode_module.INTRINSICS_1 == tuple(dis._intrinsic_1_descs)
    assert decode_module.INTRINSICS_2 == tuple(dis._intrinsic_2_descs)


def test_coroutines_are_refused_with_a_clear_error():
    async def coro():
        return 1

    def calls_coroutine():
        return coro()

    with pytest.raises(GraphBreakError) as info:
        run_python(calls_coroutine)
    assert info.value.category == Category.UNSUPPORTED_PYTHON
    assert "coroutine" in str(info.value)


def test_refused_opcode_reports_the_instruction():
    namespace = {}
    exec(compile("1 + 1", "<interactive>", "single"), namespace)   # prints under CPython
    code = compile("40 + 2", "<interactive>", "single")
    fn = type(test_refused_opcode_reports_the_instruction)(code, {})
    with pytest.raises(GraphBreakError) as info:
        run_python(fn)
    assert info.value.category == Category.UNSUPPORTED_BYTECODE
    # 3.11: PRINT_EXPR; 3.12+: CALL_INTRINSIC_1 (INTRINSIC_PRINT)
    printing = next(i for i in dis.get_instructions(code) if "PRINT" in i.opname + i.argrepr)
    shown = printing.opname if printing.opname == "PRINT_EXPR" else \
        f"{printing.opname} ({printing.argrepr})"
    assert f"unsupported bytecode: {shown}: interactive-mode" in str(info.value)
    assert info.value.instruction.offset == printing.offset


def test_corpus_executes_every_handled_opcode():
    executed: set[str] = set()
    originals = dict(HANDLERS)

    def counting(name, handler):
        def run(interp, frame, instr):
            executed.add(name)
            return handler(interp, frame, instr)
        return run

    def unbind():
        for decoded in decode_module._cache.values():
            for instr in decoded.instrs:
                instr.handler = None

    for name, handler in originals.items():
        HANDLERS[name] = counting(name, handler)
    unbind()
    try:
        for prog in collect():
            if prog.kind != "python":
                continue
            for args in prog.argsets:
                try:
                    run_python(prog.fn, *copy.deepcopy(args))
                except Exception:  # noqa: BLE001 - programs that raise are part of the corpus
                    pass
    finally:
        HANDLERS.update(originals)
        unbind()
    missing = sorted(set(originals) - executed - NOT_EXECUTED)
    assert missing == [], missing


def _counting_loop(n):
    total = 0
    for i in range(n):
        total += i
    return total


def test_a_rebinding_with_a_wrapped_handler_undoes_the_fused_pairs():
    """The run loop's fused pairs (FOR_ITER + STORE_FAST, LOAD_CONST + operator) are made per
    binding: once a handler is wrapped (bench.py's counter, a test's), its instructions reach
    it, whatever an earlier binding with the standard handlers fused."""
    assert run_python(_counting_loop, 5) == 10      # standard handlers: fused
    stores, original = [], HANDLERS["STORE_FAST"]

    def counting(interp, frame, instr):
        stores.append(instr.arg)
        return original(interp, frame, instr)

    def rebind():
        for instr in decode_module.decode(_counting_loop.__code__).instrs:
            instr.handler = None

    HANDLERS["STORE_FAST"] = counting
    rebind()
    try:
        assert run_python(_counting_loop, 5) == 10
    finally:
        HANDLERS["STORE_FAST"] = original
        rebind()
    assert len(stores) == 1 + 5 + 5     # `total = 0`, then `i` and `total` each iteration
    assert run_python(_counting_loop, 5) == 10
