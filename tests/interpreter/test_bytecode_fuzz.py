"""Random bytecode: programs built from random expression/statement trees and assembled with
the `bytecode` package (stack shuffles, arithmetic, comparisons, jumps, tuple/list building,
unpacking, loops, try/except), laid out as the running CPython's compiler does
(bytecode_versions.py). CPython and our interpreter must agree on the result or on the
exception raised (type and message)."""
from __future__ import annotations

import builtins
import types

import bytecode as bc
from hypothesis import given
from hypothesis import strategies as st

from support import bytecode_versions as layout
from strict_tracer import StrictTracerError
from strict_tracer.interpreter.standalone import run_python

VARS = ("v0", "v1", "v2", "v3")
CONSTS = st.one_of(st.integers(-6, 20), st.sampled_from(["", "a", "bc", None, True, False, 0.5,
                                                         -2.0, (1, 2), (), ("x",)]))
SAFE_BINOPS = [bc.BinaryOp.ADD, bc.BinaryOp.SUBTRACT, bc.BinaryOp.MULTIPLY, bc.BinaryOp.FLOOR_DIVIDE,
               bc.BinaryOp.REMAINDER, bc.BinaryOp.AND, bc.BinaryOp.OR, bc.BinaryOp.XOR,
               bc.BinaryOp.TRUE_DIVIDE, bc.BinaryOp.INPLACE_ADD, bc.BinaryOp.INPLACE_SUBTRACT,
               bc.BinaryOp.INPLACE_MULTIPLY, bc.BinaryOp.INPLACE_OR, bc.BinaryOp.RSHIFT]
# Operators whose right operand is a small constant (no huge integers).
BOUNDED_BINOPS = [bc.BinaryOp.POWER, bc.BinaryOp.LSHIFT]
COMPARES = list(bc.Compare)
EXCEPTIONS = [Exception, TypeError, ZeroDivisionError, (TypeError, IndexError), ValueError]


def _expr(children):
    leaf = st.one_of(st.tuples(st.just("const"), CONSTS), st.tuples(st.just("var"), st.sampled_from(VARS)))
    return st.one_of(
        leaf,
        st.tuples(st.just("binop"), st.sampled_from(SAFE_BINOPS), children, children),
        st.tuples(st.just("bounded"), st.sampled_from(BOUNDED_BINOPS), children, st.integers(0, 5)),
        st.tuples(st.just("compare"), st.sampled_from(COMPARES), children, children),
        st.tuples(st.just("is"), st.booleans(), children, children),
        st.tuples(st.just("contains"), st.booleans(), children, children),
        st.tuples(st.just("unary"), st.sampled_from(["UNARY_NEGATIVE", "UNARY_INVERT", "UNARY_NOT",
                                                     "UNARY_POSITIVE"]), children),
        st.tuples(st.just("build"), st.sampled_from(["BUILD_TUPLE", "BUILD_LIST"]),
                  st.lists(children, max_size=3)),
        st.tuples(st.just("subscr"), children, children),
        st.tuples(st.just("slice"), children, st.integers(-3, 3), st.integers(-3, 3)),
        st.tuples(st.just("ifexp"), children, children, children),
        st.tuples(st.just("boolop"), st.sampled_from(["JUMP_IF_FALSE_OR_POP", "JUMP_IF_TRUE_OR_POP"]),
                  children, children),
        st.tuples(st.just("swap"), st.lists(children, min_size=2, max_size=3)),
        st.tuples(st.just("copy"), children, children),
        st.tuples(st.just("extend"), children),
        st.tuples(st.just("ifnone"), children, children),
        st.tuples(st.just("pair"), st.sampled_from(VARS), st.sampled_from(VARS)),
    )


EXPR = st.deferred(lambda: _expr(st.deferred(lambda: EXPR_LIMITED)))
EXPR_LIMITED = st.recursive(
    st.one_of(st.tuples(st.just("const"), CONSTS), st.tuples(st.just("var"), st.sampled_from(VARS))),
    _expr, max_leaves=6)


def _stmt(children):
    return st.one_of(
        st.tuples(st.just("assign"), st.sampled_from(VARS), EXPR_LIMITED),
        st.tuples(st.just("unpack"), st.lists(st.sampled_from(VARS), min_size=1, max_size=3), EXPR_LIMITED),
        st.tuples(st.just("swap_vars"), st.sampled_from(VARS), st.sampled_from(VARS)),
        st.tuples(st.just("unpack_ex"), st.integers(0, 2), st.integers(0, 1), EXPR_LIMITED),
        st.tuples(st.just("if"), EXPR_LIMITED, st.lists(children, max_size=2), st.lists(children, max_size=2)),
        st.tuples(st.just("for"), EXPR_LIMITED, st.sampled_from(VARS), st.lists(children, max_size=2)),
        st.tuples(st.just("while"), st.integers(0, 3), st.lists(children, max_size=2)),
        st.tuples(st.just("try"), st.lists(children, min_size=1, max_size=2),
                  st.sampled_from(range(len(EXCEPTIONS))), st.sampled_from(VARS)),
    )


STMTS = st.lists(st.recursive(st.tuples(st.just("assign"), st.sampled_from(VARS), EXPR_LIMITED),
                              _stmt, max_leaves=6), min_size=1, max_size=5)


class Assembler:
    """Compiles a statement tree into an abstract `bytecode.Bytecode`."""

    def __init__(self) -> None:
        self.out: list = []
        self.depth = 0          # values below the current statement (for-loop iterators)
        self.counters = 0
        self.regions: list[list] = []   # open try regions: [TryBegin, target, lasti, depth]

    # The exception table has no nesting: an inner try region suspends the enclosing one,
    # which is reopened (same handler) when the inner region ends, as CPython lays it out.
    def begin_region(self, target, push_lasti: bool, depth: int) -> None:
        if self.regions:
            self.emit(bc.TryEnd(self.regions[-1][0]))
        begin = bc.TryBegin(target, push_lasti=push_lasti, stack_depth=depth)
        self.regions.append([begin, target, push_lasti, depth])
        self.emit(begin)

    def end_region(self) -> None:
        begin = self.regions.pop()[0]
        self.emit(bc.TryEnd(begin))
        if self.regions:
            parent = self.regions[-1]
            parent[0] = bc.TryBegin(parent[1], push_lasti=parent[2], stack_depth=parent[3])
            self.emit(parent[0])

    def emit(self, *items) -> None:
        self.out.extend(items)

    def expr(self, node) -> None:
        kind = node[0]
        I = bc.Instr
        if kind == "const":
            self.emit(I("LOAD_CONST", node[1]))
        elif kind == "var":
            self.emit(I("LOAD_FAST", node[1]))
        elif kind in ("binop", "compare"):
            self.expr(node[2])
            self.expr(node[3])
            self.emit(I("BINARY_OP" if kind == "binop" else "COMPARE_OP", node[1]))
        elif kind == "bounded":
            self.expr(node[2])
            self.emit(I("LOAD_CONST", node[3]), I("BINARY_OP", node[1]))
        elif kind in ("is", "contains"):
            self.expr(node[2])
            self.expr(node[3])
            self.emit(I("IS_OP" if kind == "is" else "CONTAINS_OP", int(node[1])))
        elif kind == "unary":
            self.expr(node[2])
            self.emit(*layout.unary(node[1]))
        elif kind == "build":
            for item in node[2]:
                self.expr(item)
            self.emit(I(node[1], len(node[2])))
        elif kind == "subscr":
            self.expr(node[1])
            self.expr(node[2])
            self.emit(I("BINARY_SUBSCR"))
        elif kind == "slice":
            self.expr(node[1])
            self.emit(*layout.slice_of(node[2], node[3]))
        elif kind == "ifexp":
            other, end = bc.Label(), bc.Label()
            self.expr(node[1])
            self.emit(*layout.jump_if(False, other))
            self.expr(node[2])
            self.emit(I("JUMP_FORWARD", end), other)
            self.expr(node[3])
            self.emit(end)
        elif kind == "boolop":
            end = bc.Label()
            self.expr(node[2])
            self.emit(*layout.short_circuit(node[1] == "JUMP_IF_TRUE_OR_POP", end))
            self.expr(node[3])
            self.emit(end)
        elif kind == "swap":
            for item in node[1]:
                self.expr(item)
            n = len(node[1])
            self.emit(I("SWAP", n), I("BUILD_TUPLE", n))
        elif kind == "copy":
            self.expr(node[1])
            self.expr(node[2])
            self.emit(I("COPY", 2), I("BUILD_TUPLE", 3))
        elif kind == "extend":
            self.emit(I("BUILD_LIST", 0))
            self.expr(node[1])
            self.emit(I("LIST_EXTEND", 1), *layout.list_to_tuple())
        elif kind == "ifnone":
            other, end = bc.Label(), bc.Label()
            self.expr(node[1])
            self.emit(*layout.jump_if_not_none(other), I("LOAD_CONST", "was none"),
                      I("JUMP_FORWARD", end), other)
            self.expr(node[2])
            self.emit(end)
        elif kind == "pair":
            self.emit(*layout.load_pair(node[1], node[2]), I("BUILD_TUPLE", 2))
        else:
            raise AssertionError(kind)

    def stmt(self, node) -> None:
        kind = node[0]
        I = bc.Instr
        if kind == "assign":
            self.expr(node[2])
            self.emit(I("STORE_FAST", node[1]))
        elif kind == "unpack":
            self.expr(node[2])
            self.emit(I("UNPACK_SEQUENCE", len(node[1])), *(I("STORE_FAST", v) for v in node[1]))
        elif kind == "swap_vars":       # a, b = b, a
            self.emit(*layout.load_pair(node[2], node[1]), *layout.store_pair(node[2], node[1]))
        elif kind == "unpack_ex":
            before, after = node[1], node[2]
            self.expr(node[3])
            targets = VARS[:before + 1 + after]
            self.emit(I("UNPACK_EX", before | (after << 8)), *(I("STORE_FAST", v) for v in targets))
        elif kind == "if":
            other, end = bc.Label(), bc.Label()
            self.expr(node[1])
            self.emit(*layout.jump_if(False, other))
            self.block(node[2])
            self.emit(I("JUMP_FORWARD", end), other)
            self.block(node[3])
            self.emit(end)
        elif kind == "for":
            top, end, after = bc.Label(), bc.Label(), bc.Label()
            self.expr(node[1])
            self.emit(I("GET_ITER"), top, I("FOR_ITER", end), I("STORE_FAST", node[2]))
            self.depth += 1
            self.block(node[3])
            self.depth -= 1
            self.emit(I("JUMP_BACKWARD", top), *layout.loop_end(end, after))
        elif kind == "while":
            counter = f"c{self.counters}"
            self.counters += 1
            top, end = bc.Label(), bc.Label()
            self.emit(I("LOAD_CONST", node[1]), I("STORE_FAST", counter), top,
                      I("LOAD_FAST", counter), I("LOAD_CONST", 0), I("COMPARE_OP", bc.Compare.GT),
                      *layout.jump_if(False, end, coerce=False))
            self.block(node[2])
            self.emit(I("LOAD_FAST", counter), I("LOAD_CONST", 1),
                      I("BINARY_OP", bc.BinaryOp.SUBTRACT), I("STORE_FAST", counter),
                      I("JUMP_BACKWARD", top), end)
        elif kind == "try":
            self.try_except(node[1], EXCEPTIONS[node[2]], node[3])
        else:
            raise AssertionError(kind)

    def try_except(self, body, exc_type, target) -> None:
        """The layout CPython compiles `try: body / except exc_type: target = 'caught'` to."""
        self.try_layout(body, exc_type, lambda depth: self.emit(
            bc.Instr("LOAD_CONST", "caught"), bc.Instr("STORE_FAST", target)))

    def try_layout(self, body, exc_type, handler_body) -> None:
        """`try: body / except exc_type: <handler_body(depth)>` as CPython 3.11-3.13 lay it out:
        protected body, PUSH_EXC_INFO + CHECK_EXC_MATCH, the handler (at stack depth `depth`),
        POP_EXCEPT, and the reraise/cleanup blocks."""
        I = bc.Instr
        handler, cleanup, reraise, after = bc.Label(), bc.Label(), bc.Label(), bc.Label()
        d = self.depth
        self.emit(I("NOP"))
        self.begin_region(handler, False, d)
        self.block(body)
        self.end_region()
        self.emit(I("JUMP_FORWARD", after), handler)
        self.begin_region(cleanup, True, d + 1)
        self.emit(I("PUSH_EXC_INFO"), I("LOAD_CONST", exc_type), I("CHECK_EXC_MATCH"),
                  *layout.jump_if(False, reraise, coerce=False), I("POP_TOP"))
        handler_body(d + 1)
        self.end_region()
        self.emit(I("POP_EXCEPT"), I("JUMP_FORWARD", after), reraise)
        self.begin_region(cleanup, True, d + 1)
        self.emit(I("RERAISE", 0))
        self.end_region()
        self.emit(cleanup, I("COPY", 3), I("POP_EXCEPT"), I("RERAISE", 1), after)

    def block(self, stmts) -> None:
        if not stmts:
            self.emit(bc.Instr("NOP"))
        for s in stmts:
            self.stmt(s)


def assemble(stmts) -> types.FunctionType:
    asm = Assembler()
    asm.emit(bc.Instr("RESUME", 0))
    asm.block(stmts)
    for v in VARS:
        asm.emit(bc.Instr("LOAD_FAST", v))
    asm.emit(bc.Instr("BUILD_TUPLE", len(VARS)), bc.Instr("RETURN_VALUE"))
    code = bc.Bytecode(asm.out)
    code.argnames = list(VARS)
    code.argcount = len(VARS)
    code.name = "fuzzed"
    return types.FunctionType(code.to_code(), {"__builtins__": builtins})


def outcome(run):
    try:
        return ("ok", repr(run()))
    except StrictTracerError:
        raise
    except Exception as exc:  # noqa: BLE001 - the outcome is what we compare
        return ("raise", type(exc).__name__, str(exc))


@given(STMTS, st.tuples(*(st.one_of(st.integers(-5, 5), CONSTS) for _ in VARS)))
def test_random_bytecode_matches_cpython(stmts, args):
    fn = assemble(stmts)
    want = outcome(lambda: fn(*args))
    got = outcome(lambda: run_python(fn, *args))
    assert got == want


def test_assembler_covers_the_interesting_opcodes():
    """The generator's grammar reaches the opcodes it is meant to test."""
    stmts = [("try", [("for", ("build", "BUILD_LIST", [("const", 1)]), "v1",
                       [("unpack_ex", 1, 1, ("swap", [("var", "v0"), ("const", "ab")]))])], 0, "v2"),
             ("while", 2, [("assign", "v3", ("copy", ("const", 1), ("extend", ("const", (1,)))))])]
    fn = assemble(stmts)
    names = {i.opname for i in __import__("dis").get_instructions(fn)}
    assert {"SWAP", "COPY", "UNPACK_EX", "FOR_ITER", "PUSH_EXC_INFO", "CHECK_EXC_MATCH", "RERAISE",
            "LIST_EXTEND", "JUMP_BACKWARD"} <= names
    if layout.PY312:
        assert {"END_FOR", "CALL_INTRINSIC_1"} <= names
    args = (1, 2, 3, 4)
    assert outcome(lambda: run_python(fn, *args)) == outcome(lambda: fn(*args))
