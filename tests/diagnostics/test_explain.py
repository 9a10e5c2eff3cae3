"""explain(): every problem in one run, in order, with the same details as export's errors."""
from __future__ import annotations

import functools
import copy
import json
import operator
import random

import torch

import strict_tracer
from torch.export import Dim
from strict_tracer import Category, context
from strict_tracer.explain import ExplainReport, ExplainSession
from strict_tracer.interpreter.core import Interpreter
from strict_tracer.trace.trace_state import TraceState

from support.bytecode_expect import branch_opname
from support.helpers import aten_targets, marked_line

THIS_FILE = __file__


_line = functools.partial(marked_line, THIS_FILE)


def _scale(t):
    return t * id(t)  # <- id


class ThreeProblems(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x):
        y = self.lin(x)
        if y.sum() > 0:  # <- branch
            y = y * 2
        n = len(range(y.argmax()))  # <- int
        z = _scale(y).relu()
        w = z.data  # <- data
        return torch.sigmoid(w) + n


def test_three_problems_reported_in_order():
    mod = ThreeProblems()
    before = copy.deepcopy(mod.state_dict())
    report = strict_tracer.explain(mod, (torch.randn(2, 4),))
    assert isinstance(report, ExplainReport) and not report.ok
    got = [(p.category, p.location, p.instruction.opname) for p in report.problems]
    assert got == [
        (Category.DATA_DEPENDENT_BRANCH, f"{THIS_FILE}:{_line('branch')}", branch_opname("x.sum() > 0")),
        (Category.DATA_DEPENDENT_VALUE, f"{THIS_FILE}:{_line('int')}", "CALL"),
        (Category.UNSUPPORTED_NATIVE, f"{THIS_FILE}:{_line('id')}", "CALL"),
        (Category.UNSUPPORTED_TENSOR_OP, f"{THIS_FILE}:{_line('data')}", "LOAD_ATTR"),
    ]
    first = report.problems[0]
    assert "Tensor(bool[], from aten.gt.Scalar" in first.stack[-1]
    assert "torch.cond" in first.hint
    assert "assumed the condition is True" in first.action
    # tracing went on after the problems: the ops after them were captured
    assert report.ops >= 6
    # the module is untouched
    for key, value in mod.state_dict().items():
        assert torch.equal(value, before[key])


def test_report_text_and_data():
    report = strict_tracer.explain(ThreeProblems(), (torch.randn(2, 4),))
    text = str(report)
    assert text.startswith("explain(): 4 problems found")
    for index, problem in enumerate(report.problems, 1):
        assert f"Problem {index} of 4 at {problem.location}" in text
        assert problem.error.render().splitlines()[0] in text
    data = json.loads(report.to_json())
    assert data == report.as_dict()
    assert [p["category"] for p in data["problems"]] == [p.category for p in report.problems]
    first = data["problems"][0]
    assert {key: first[key] for key in ("category", "kind", "file", "line", "function",
                                        "source", "opname", "count")} == {
        "category": Category.DATA_DEPENDENT_BRANCH, "kind": "limitation", "file": THIS_FILE,
        "line": _line("branch"), "function": "forward", "source": "if y.sum() > 0:  # <- branch",
        "opname": branch_opname("x.sum() > 0"), "count": 1}
    assert first["offset"] == report.problems[0].instruction.offset
    assert first["message"] == report.problems[0].reason and "tensor" in first["message"]
    assert first["fix"] == report.problems[0].hint and "torch.cond" in first["fix"]
    assert first["frames"][0] == {"file": THIS_FILE, "line": _line("branch"),
                                  "function": "forward", "is_library": False,
                                  "source": "if y.sum() > 0:  # <- branch"}
    # the `id()` problem is raised inside _scale: file/line name the innermost user frame
    third = data["problems"][2]
    assert (third["line"], third["function"]) == (_line("id"), "_scale")
    assert [f["function"] for f in third["frames"]] == ["_scale", "forward"]
    assert data["ok"] is False and data["ops"] == report.ops


def test_clean_module_reports_nothing_and_counts_the_ops():
    class Clean(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 3)

        def forward(self, x):
            return torch.relu(self.lin(x)) * 2

    mod, args = Clean(), (torch.randn(2, 3),)
    report = strict_tracer.explain(mod, args)
    assert report.ok and report.problems == [] and report.stopped is None
    assert report.ops == len(aten_targets(strict_tracer.export(mod, args)))
    assert "0 problems found" in str(report) and "exports as is" in str(report)


def test_data_dependent_loops_terminate_and_repeats_are_counted():
    class Loops(torch.nn.Module):
        def forward(self, x):
            while x.sum() > 0:  # <- while
                x = x - 1
            for _ in range(3):
                if x.mean() > 0:  # <- repeated
                    x = x + 1
            return x

    report = strict_tracer.explain(Loops(), (torch.randn(3),))
    assert [p.location for p in report.problems] == [f"{THIS_FILE}:{_line('while')}",
                                                     f"{THIS_FILE}:{_line('repeated')}"]
    assert report.problems[1].count == 3
    assert "met 3 times" in str(report)


def test_consequences_of_a_stand_in_are_not_reported():
    class Cascade(torch.nn.Module):
        def forward(self, x):
            n = operator.index(x.sum().long())  # <- cascade
            y = x.reshape(n, -1)      # depends only on the unknown n
            return y + len(str(n))

    report = strict_tracer.explain(Cascade(), (torch.randn(4),))
    assert [p.location for p in report.problems] == [f"{THIS_FILE}:{_line('cascade')}"]


def test_problems_after_a_tensor_stand_in_are_still_found():
    class AfterStandIn(torch.nn.Module):
        def forward(self, x):
            y = x.data  # <- standin
            if y.sum() > 0:  # <- after
                return y
            return -y

    report = strict_tracer.explain(AfterStandIn(), (torch.randn(3),))
    assert [p.location for p in report.problems] == [f"{THIS_FILE}:{_line('standin')}",
                                                     f"{THIS_FILE}:{_line('after')}"]
    assert "stand-in tensor float32[3]" in report.problems[0].action


def test_problems_inside_submodules_and_hooks():
    class Inner(torch.nn.Module):
        def forward(self, x):
            return x * operator.index(x.argmax())  # <- inner

    class Outer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Inner()
            self.inner.register_forward_hook(lambda m, a, out: out if out.max() > 0 else -out)  # <- hook

        def forward(self, x):
            return self.inner(x) + 1

    report = strict_tracer.explain(Outer(), (torch.randn(3),))
    assert [p.location for p in report.problems] == [f"{THIS_FILE}:{_line('inner')}",
                                                     f"{THIS_FILE}:{_line('hook')}"]


def test_a_refusal_inside_library_code_abandons_the_library_call():
    class Dropout(torch.nn.Module):
        def forward(self, x):
            y = torch.nn.functional.dropout(x, p=x.mean())  # <- library_call
            if y.sum() > 0:  # <- after_library
                y = y + 1
            return y

    report = strict_tracer.explain(Dropout(), (torch.randn(3),))
    first, second = report.problems
    assert first.location == f"{THIS_FILE}:{_line('library_call')}"
    assert first.frames[0].is_library
    assert first.instruction.opname.startswith("POP_JUMP") or first.instruction.opname in (
        "TO_BOOL", "COMPARE_OP")
    assert "abandoned this library call" in first.action
    # the call's result was a tensor stand-in, so the branch on it is found too
    assert second.location == f"{THIS_FILE}:{_line('after_library')}"


def test_an_exception_of_the_program_ends_the_report():
    class Fails(torch.nn.Module):
        def forward(self, x):
            if x.sum() > 0:  # <- before_raise
                x = x + 1
            return x @ torch.ones(5, 5)  # <- matmul

    report = strict_tracer.explain(Fails(), (torch.randn(3),))
    assert [(p.category, p.location) for p in report.problems] == [
        (Category.DATA_DEPENDENT_BRANCH, f"{THIS_FILE}:{_line('before_raise')}"),
        (Category.USER_ERROR, f"{THIS_FILE}:{_line('matmul')}"),
    ]
    assert "RuntimeError" in report.problems[1].reason


def test_guards_are_reported_with_their_source_line():
    def program(n):
        if n > 2:  # <- guard
            return n * 2
        return n

    state = TraceState(torch.nn.Module())
    session = ExplainSession()
    interp = Interpreter(state, explain=session)
    size = state.shape_env.create_size(5, "n")
    with context.activate(interp):
        interp.call(program, (size,), {})
    report = session.report(None)
    (guard,) = report.guards
    assert guard.expr == "s0 > 2"
    assert guard.location.user_frame.location() == f"{THIS_FILE}:{_line('guard')}"
    assert guard.location.instruction.opname == branch_opname("n > 2")
    assert f"s0 > 2  ({THIS_FILE}:{_line('guard')} in program: if n > 2:" in str(report)


def test_guards_of_dynamic_shapes_are_reported_with_their_lines():
    class Dynamic(torch.nn.Module):
        def forward(self, x, y):
            if x.shape[0] > 2:  # <- dyn_branch
                x = x * 2
            return x + y  # <- dyn_add

    batch = torch.export.Dim("batch")
    report = strict_tracer.explain(Dynamic(), (torch.randn(4, 3), torch.randn(4, 3)),
                                   dynamic_shapes=({0: batch}, {0: torch.export.Dim("other")}))
    lines = {g.location.user_frame.lineno for g in report.guards}
    assert {_line("dyn_branch"), _line("dyn_add")} <= lines
    assert not report.ok and report.problems == [] and report.violations
    assert "The values of other" in report.violations[0]
    assert "constraints violated" in str(report).splitlines()[0]


def test_provenance_is_recorded_by_export_traces_too():
    """The shape environment's provenance hook is set for every trace, not only explain()."""
    def program(n):
        return n + 1 if n >= 3 else n  # <- plain_guard

    state = TraceState(torch.nn.Module())
    interp = Interpreter(state)
    size = state.shape_env.create_size(4, "n")
    with context.activate(interp):
        interp.call(program, (size,), {})
    assert state.shape_env.guards[0].provenance.user_frame.lineno == _line("plain_guard")


def test_explain_budget_stops_cleanly():
    class Long(torch.nn.Module):
        def forward(self, x):
            for _ in range(10_000):
                x = x + 1
            return x

    session = ExplainSession(max_instructions=500)
    from strict_tracer.api import trace
    from strict_tracer.interpreter.diagnostics.recovery import ExplainStop
    try:
        trace(Long(), (torch.randn(2),), {}, explain=session)
    except ExplainStop as stop:
        assert "500 instructions" in str(stop)
    else:
        raise AssertionError("the budget did not stop explain()")


def test_constraint_violations_are_part_of_the_report(monkeypatch):
    import strict_tracer.api as api

    def violating_trace(mod, args, kwargs, *, dynamic_shapes=None, explain=None, stages=None):
        raise strict_tracer.ConstraintViolationError("Constraints violated (batch)! ...")

    monkeypatch.setattr(api, "trace", violating_trace)
    report = strict_tracer.explain(ThreeProblems(), (torch.randn(2, 4),))
    assert not report.ok and report.violations == ["Constraints violated (batch)! ..."]
    assert "dynamic_shapes constraint violation:\n  Constraints violated (batch)!" in str(report)


def test_guards_name_sizes_as_the_exported_program_prints_them():
    class Sized(torch.nn.Module):
        def forward(self, x, y):
            if x.shape[0] > 2:  # <- named_guard
                x = x + 1
            return x + y

    args = (torch.randn(4, 3), torch.randn(4, 3))
    auto = ({0: Dim.AUTO}, {0: Dim.AUTO})
    report = strict_tracer.explain(Sized(), args, dynamic_shapes=auto)
    ep = strict_tracer.export(Sized(), args, dynamic_shapes=auto)
    (symbol,) = [str(s) for s in ep.range_constraints]
    assert symbol != "s0"
    first, relation = [g.expr for g in report.guards]
    assert first == f"{symbol} > 2"
    # the two dims are found equal and print as one symbol in the program; the guard that
    # relates them names each dim's own symbol
    assert relation.startswith("Eq(") and symbol in relation and relation != f"Eq({symbol}, {symbol})"


class SliceByInt(torch.nn.Module):
    def forward(self, x, n):
        k = operator.index(n)  # <- int_of_tensor
        x = x[:, :k]
        return x * random.random(), x.data  # <- random_and_data


def test_an_error_caused_by_a_stand_in_is_not_the_programs():
    """Slicing by the stand-in for operator.index(n) fails while tracing: that is explain's own doing
    (the stand-in sits inside a slice inside a tuple), so it is not reported, and tracing
    goes on to find `random` and `.data` (eager runs the program fine)."""
    x, n = torch.randn(3, 5), torch.tensor(2)
    mod = SliceByInt()
    mod(x, n)                                    # eager: no error
    report = strict_tracer.explain(mod, (x, n))
    got = [(p.category, p.location, p.kind) for p in report.problems]
    assert got == [
        (Category.DATA_DEPENDENT_VALUE, f"{THIS_FILE}:{_line('int_of_tensor')}", "limitation"),
        (Category.SIDE_EFFECT, f"{THIS_FILE}:{_line('random_and_data')}", "limitation"),
        (Category.UNSUPPORTED_TENSOR_OP, f"{THIS_FILE}:{_line('random_and_data')}", "limitation"),
    ]
    assert "index" in report.problems[0].reason
    assert "random" in report.problems[1].reason
    assert ".data" in report.problems[2].reason
    assert "error raised by the traced program" not in str(report)


def _bit_length_size(x):
    return x.new_zeros(int.bit_length(x.shape[0]) + 1)  # <- bit_length


class SizeArithmetic(torch.nn.Module):
    def forward(self, x):
        y = _bit_length_size(x)
        return x.sum() + y.sum(), x.data  # <- after_bit_length


def test_an_error_only_a_symbolic_size_causes_is_a_limitation():
    """`int.bit_length(size)` (an unbound int method, which checks its argument's type) raises
    while tracing but not on the example values: the
    re-check at the hints makes it a limitation, reported, and tracing continues."""
    x = torch.randn(7)
    dynamic = ({0: Dim("n")},)
    with_symbols = strict_tracer.explain(SizeArithmetic(), (x,), dynamic_shapes=dynamic)
    first, second = with_symbols.problems
    assert (first.category, first.location, first.kind) == (
        Category.UNSUPPORTED_PYTHON, f"{THIS_FILE}:{_line('bit_length')}", "limitation")
    assert first.reason.startswith(
        "`int.bit_length()` on a dynamic size raises TypeError while tracing")
    assert second.location == f"{THIS_FILE}:{_line('after_bit_length')}"
    # static shapes: pow runs on ints, only `.data` is a problem
    static = strict_tracer.explain(SizeArithmetic(), (x,))
    assert [p.location for p in static.problems] == [f"{THIS_FILE}:{_line('after_bit_length')}"]


class RealError(torch.nn.Module):
    def forward(self, x):
        y = x.data  # <- before_real_error
        n = x.shape[0]
        return y + [1, 2, 3][n]  # <- real_index_error


def test_the_programs_own_error_is_reported_as_such():
    """IndexError at the example values: eager raises it too, so it is the program's."""
    x = torch.randn(4)
    for dynamic in (None, ({0: Dim("n")},)):
        report = strict_tracer.explain(RealError(), (x,), dynamic_shapes=dynamic)
        got = [(p.category, p.location, p.kind) for p in report.problems]
        assert got == [
            (Category.UNSUPPORTED_TENSOR_OP, f"{THIS_FILE}:{_line('before_real_error')}",
             "limitation"),
            (Category.USER_ERROR, f"{THIS_FILE}:{_line('real_index_error')}", "program error"),
        ], dynamic
        assert "IndexError" in report.problems[1].reason


class RaiseOnValue(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 100:  # <- raise_branch
            raise ValueError("too large")
        return x.data  # <- after_raise_branch


def test_a_guessed_branch_does_not_walk_into_a_raise():
    report = strict_tracer.explain(RaiseOnValue(), (torch.randn(3),))
    assert [(p.location, p.kind) for p in report.problems] == [
        (f"{THIS_FILE}:{_line('raise_branch')}", "limitation"),
        (f"{THIS_FILE}:{_line('after_raise_branch')}", "limitation")]
    assert "assumed the condition is False" in report.problems[0].action


def test_the_re_check_never_runs_the_users_code_natively():
    import dis
    import types
    from strict_tracer.interpreter.diagnostics.evidence import limitation
    from strict_tracer.symbolic.shape_env import ShapeEnv

    code = (lambda a, b: a + b).__code__
    (add,) = [i for i in dis.get_instructions(code) if i.opname == "BINARY_OP"]
    instr = types.SimpleNamespace(opname="BINARY_OP", offset=add.offset)
    calls = []

    class Operand:
        def __add__(self, other):
            calls.append(other)
            return 0

    size = ShapeEnv().create_size(5, "n")
    assert limitation(code, instr, [[0], size], None) is None                 # [0] + 5 fails
    assert limitation(code, instr, [Operand(), size], None) is None and calls == []
    assert limitation(code, instr, [3, size], None) == "the `+` operator"     # 3 + 5 works
    assert limitation(code, instr, ["a", size], None) is None                 # "a" + 5 fails


class TransposesItsInput(torch.nn.Module):
    def forward(self, x):
        x.t_()  # <- t_
        return x + 1


def test_refusals_of_the_later_stages_are_reported_too():
    """The trace is clean but functionalization refuses: explain() runs the whole export, so
    that `ok` means export() succeeds."""
    report = strict_tracer.explain(TransposesItsInput(), (torch.randn(2, 3),))
    (problem,) = report.problems
    assert not report.ok and problem.location == f"{THIS_FILE}:{_line('t_')}"
    assert "t_" in problem.reason and problem.action.startswith("found by export() after tracing")
    try:
        strict_tracer.export(TransposesItsInput(), (torch.randn(2, 3),))
    except strict_tracer.GraphBreakError as error:
        assert (error.category, error.reason) == (problem.category, problem.reason)
    else:
        raise AssertionError("export() did not refuse")
    # with problems found while tracing, the later stages are not run; the report says so
    text = str(strict_tracer.explain(ThreeProblems(), (torch.randn(2, 4),)))
    assert text.rstrip().endswith("Guards and specializations: none")
    assert "Functionalization and packaging run once these are fixed" in text
