"""Version-specific opcodes the differential corpus cannot reach from source code, checked
against the running CPython on hand-assembled bytecode, and the deliberate refusals of 3.12+
(PEP 695 type parameters defined inside traced code)."""
from __future__ import annotations

import builtins
import sys
import types

import bytecode as bc
import pytest

from strict_tracer import Category, GraphBreakError
from strict_tracer.interpreter.standalone import run_python
from test_bytecode_fuzz import outcome

I = bc.Instr
needs_312 = pytest.mark.skipif(sys.version_info < (3, 12), reason="a 3.12+ opcode")


def _function(instrs: list, globals_: dict, argnames=("mapping",)) -> types.FunctionType:
    code = bc.Bytecode([I("RESUME", 0), *instrs])
    code.argnames = list(argnames)
    code.argcount = len(argnames)
    code.name = "assembled"
    code.flags = bc.CompilerFlags.OPTIMIZED | bc.CompilerFlags.NEWLOCALS
    return types.FunctionType(code.to_code(), globals_)


class _Mapping:
    """A non-dict mapping: PyMapping_GetOptionalItem goes through __getitem__."""

    def __init__(self, data):
        self.data = data

    def __getitem__(self, key):
        if key == "boom":
            raise RuntimeError("mapping failed")
        return self.data[key]


@needs_312
@pytest.mark.parametrize("name", ["in_mapping", "in_globals", "len", "missing", "boom"])
@pytest.mark.parametrize("wrap", [dict, _Mapping])
def test_load_from_dict_or_globals_matches_cpython(name, wrap):
    """The name lookup of annotation scopes inside classes: the mapping, then globals, then
    builtins, else NameError (other mapping errors propagate)."""
    globals_ = {"__builtins__": builtins, "in_globals": "global value", "in_mapping": "shadowed"}
    fn = _function([I("LOAD_FAST", "mapping"), I("LOAD_FROM_DICT_OR_GLOBALS", name),
                    I("RETURN_VALUE")], globals_)
    mapping = wrap({"in_mapping": "mapping value"})
    assert outcome(lambda: run_python(fn, mapping)) == outcome(lambda: fn(mapping))


@needs_312
def test_load_locals_outside_a_class_body_matches_cpython():
    fn = _function([I("LOAD_LOCALS"), I("RETURN_VALUE")], {"__builtins__": builtins}, ())
    assert outcome(lambda: run_python(fn)) == outcome(fn)


PEP_695 = [
    "def inner[T](x: T) -> T:\n        return x\n    return inner(1)",
    "class Box[T]:\n        pass\n    return Box",
    "type Alias = list[int]\n    return Alias",
]


@needs_312
@pytest.mark.parametrize("body", PEP_695)
def test_type_parameter_syntax_inside_traced_code_is_refused(body):
    namespace: dict = {}
    exec(compile(f"def forward():\n    {body}\n", "<pep695>", "exec"), namespace)
    with pytest.raises(GraphBreakError) as info:
        run_python(namespace["forward"])
    error = info.value
    assert error.category == Category.UNSUPPORTED_BYTECODE
    assert "CALL_INTRINSIC_1 (INTRINSIC_" in error.reason and "PEP 695" in error.reason
    assert error.instruction.opname == "CALL_INTRINSIC_1"


@needs_312
def test_generic_function_defined_outside_runs():
    """Type parameters are only refused where they are defined: a generic function made at
    import time is interpreted like any other."""
    namespace: dict = {}
    exec(compile("def first[T](items: list[T]) -> T:\n    return items[0]\n", "<g>", "exec"),
         namespace)
    first = namespace["first"]

    def forward(items):
        return first(items) * 2

    assert run_python(forward, [3, 4]) == forward([3, 4]) == 6
