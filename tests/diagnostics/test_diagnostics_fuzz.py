"""Refusals in random programs (written by strict_tracer.testing.programs, so not programs of
this repository): a refusal injected at a random statement is found by explain() at its line,
every problem explain() reports is located, and export() raises the first one."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import strict_tracer
from strict_tracer import Category, GraphBreakError
from strict_tracer.testing import Program, programs

INDENT = " " * 8
# Refusals whose category is policy (open() is a native call or a side effect) are checked for
# their location only; the category tests live in test_diagnostics.py.
REFUSALS = {
    "branch": "_ = x0 if x0.sum() > 0 else x0",
    "index": "_ = [0][x0.argmax() * 0]",
    "id": "_ = x0 + id(x0)",
    "numpy": "_ = x0.numpy().sort()",
    "data": "_ = x0.data",
    "nonzero_branch": "_ = x0 if x0.nonzero().shape[0] > 2 else -x0",
    "open": "_ = open('/dev/null')",
    "sorted": "_ = sorted([x0, x0 + 1], key=lambda t: float(t.sum()))",
    "lambda": "_ = (lambda t: t if t.mean() > 0 else -t)(x0)",
    "fstring": "_ = f'{x0.sum()}'",
}


@st.composite
def with_refusal(draw):
    program = draw(programs(max_statements=6))
    kind = draw(st.sampled_from(sorted(REFUSALS)))
    lines = program.source.splitlines()
    # Generated.forward: the last forward (a Block class may come first)
    start = max(i for i, line in enumerate(lines) if line.startswith("    def forward")) + 1
    candidates = [i for i in range(start, len(lines))
                  if lines[i].startswith(INDENT) and not lines[i].startswith(INDENT + " ")
                  and not lines[i].strip().startswith(("else", "elif", "except", "finally"))]
    position = draw(st.sampled_from(candidates))
    lines.insert(position, INDENT + REFUSALS[kind])
    injected = Program("\n".join(lines) + "\n", program.n_inputs, program.mutates_inputs)
    return injected, kind, position + 1


@given(with_refusal())
def test_refusals_in_random_programs_are_located(case):
    program, kind, line = case
    mod = program.build()
    report = strict_tracer.explain(mod, program.inputs(4, 0))
    assert report.stopped is None
    where = f"{program.filename}:{line}"
    assert any(p.location == where for p in report.problems), \
        f"{where} not in {[p.location for p in report.problems]}\n{program.source}"
    for problem in report.problems:
        assert problem.location.startswith(program.filename + ":"), problem.error
        assert problem.category in Category.all()
        assert problem.instruction is not None and problem.hint and problem.error.window
        assert [current for current, _ in problem.error.window].count(True) == 1
    first = report.problems[0]
    try:
        strict_tracer.export(program.build(), program.inputs(4, 0))
    except GraphBreakError as err:
        assert (err.category, err.location, err.instruction) == \
               (first.category, first.location, first.instruction)
    else:
        raise AssertionError("export() accepted a program explain() found problems in")
