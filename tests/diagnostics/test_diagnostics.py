"""One refusal per category: the message names the file:line, the failing instruction, the
abstract stack values and a concrete fix; the structured fields say the same for tools."""
from __future__ import annotations

import functools
import operator
import pickle

import pytest
import torch

import strict_tracer
from support.bytecode_expect import branch_opname, find, shown, truth_test
from strict_tracer import Category, GraphBreakError
from support.helpers import marked_line

THIS_FILE = __file__


_line = functools.partial(marked_line, THIS_FILE)


class Branch(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # <- branch
            return x.sin()
        return x.cos()


class ToInt(torch.nn.Module):
    def forward(self, x):
        n = operator.index(x.argmax())  # <- to_int
        return x * n


class IdOfTensor(torch.nn.Module):
    def forward(self, x):
        return x + id(x)  # <- id


class AssignParameter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(3))

    def forward(self, x):
        self.weight = x * 2  # <- assign_param
        return x


class ImportStar(torch.nn.Module):
    def forward(self, x):
        exec("from math import *", {})  # <- import_star
        return x


class TensorData(torch.nn.Module):
    def forward(self, x):
        return x.data + 1  # <- data


class ReturnsObject(torch.nn.Module):
    def forward(self, x):
        return x, object()  # <- output


class BranchesDisagree(torch.nn.Module):
    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda a: a.int(), lambda a: a.sin(), (x,))  # <- cond


class Raises(torch.nn.Module):
    def forward(self, x):
        raise ValueError("negative input")  # <- raise


# category -> (module, marker, failing opname, text of a stack value, text of the fix)
EXPECTED = {
    Category.DATA_DEPENDENT_BRANCH: (Branch, "branch", branch_opname("x.sum() > 0"),
                                     f"Tensor(bool[], from aten.gt.Scalar at test_diagnostics.py:{_line('branch')})",
                                     "torch.cond"),
    Category.DATA_DEPENDENT_VALUE: (ToInt, "to_int", "CALL",
                                    f"Tensor(int64[], from aten.argmax.default at test_diagnostics.py:{_line('to_int')})",
                                    "torch._check"),
    Category.UNSUPPORTED_NATIVE: (IdOfTensor, "id", "CALL", "Tensor(float32[3], input x)",
                                  "do not use id() of tensors"),
    Category.SIDE_EFFECT: (AssignParameter, "assign_param", "STORE_ATTR",
                           f"Tensor(float32[3], from aten.mul.Tensor at test_diagnostics.py:{_line('assign_param')})",
                           "in place under torch.no_grad()"),
    # 3.11: IMPORT_STAR; 3.12+: CALL_INTRINSIC_1 (INTRINSIC_IMPORT_STAR)
    Category.UNSUPPORTED_BYTECODE: (ImportStar, "import_star",
                                    find(compile("from math import *", "<s>", "exec"),
                                         lambda i: "IMPORT_STAR" in i.opname + i.argrepr).opname,
                                    "module math",
                                    "plain synchronous Python"),
    Category.UNSUPPORTED_TENSOR_OP: (TensorData, "data", "LOAD_ATTR", "Tensor(float32[3], input x)",
                                     "`.detach()`"),
    Category.UNSUPPORTED_PYTHON: (ReturnsObject, "output", "RETURN_VALUE", "object object",
                                  "containers registered with torch.utils._pytree"),
    Category.CONTROL_FLOW_OP: (BranchesDisagree, "cond", "CALL", "Tensor(int32[3]",
                               "same shape, dtype and layout"),
}


def test_every_category_has_a_diagnostics_test():
    assert set(EXPECTED) | {Category.USER_ERROR} == set(Category.all())


@pytest.mark.parametrize("category", sorted(EXPECTED))
def test_refusal_message(category):
    module, marker, opname, stack_text, fix_text = EXPECTED[category]
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(module(), (torch.randn(3),))
    err = info.value
    where = f"{THIS_FILE}:{_line(marker)}"
    text = str(err)
    # structured fields
    assert err.category == category
    assert err.instruction.opname == opname
    assert any(stack_text in value for value in err.stack), err.stack
    assert fix_text in err.hint
    assert where in [f.location() for f in err.frames]
    # the rendered message
    assert text.startswith(f"{category}: ")
    assert where in text
    assert f"-->" in text and opname in text.split("-->")[1].splitlines()[0]
    assert stack_text in text
    assert f"fix: {err.hint}" in text


def test_user_error_category_in_explain():
    report = strict_tracer.explain(Raises(), (torch.randn(3),))
    (problem,) = report.problems
    assert problem.category == Category.USER_ERROR
    assert problem.location == f"{THIS_FILE}:{_line('raise')}"
    assert problem.instruction.opname == "RAISE_VARARGS"
    assert "ValueError('negative input')" in problem.stack
    text = str(report)
    assert "ValueError: negative input" in text and "fix: " in text


def test_bytecode_window_reads_like_dis():
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(Branch(), (torch.randn(3),))
    window = {info.offset: info for _, info in info.value.window}
    rendered = [f"{i.opname} {i.operand_text()}" for i in window.values()]
    forward = Branch.forward
    assert shown(find(forward, lambda i: i.opname == "COMPARE_OP")) in rendered
    assert shown(find(forward, lambda i: "sin" in i.argrepr)) in rendered
    branch = info.value.instruction
    assert branch.offset == truth_test(forward).offset
    jump = find(forward, lambda i: i.opname.startswith("POP_JUMP"))
    assert shown(jump) in rendered and shown(jump).endswith(f"(to {jump.argval})")
    assert jump.argval > jump.offset


def test_library_frames_fold_and_location_is_the_users_line():
    class Dropout(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.dropout(x, p=x.mean())  # <- dropout

    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(Dropout(), (torch.randn(3),))
    err = info.value
    assert err.frames[0].is_library
    assert err.location == f"{THIS_FILE}:{_line('dropout')}"
    assert "library frame" in str(err)


def test_graph_break_error_pickles_with_its_fields():
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(Branch(), (torch.randn(3),))
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value)
    assert copy.frames == info.value.frames and copy.window == info.value.window


def test_error_constructed_outside_the_interpreter_is_located():
    """A GraphBreakError built by any stage while a trace is active gets the location."""
    class Buffered(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("state", torch.zeros(3))

        def forward(self, x):
            self.state = torch.zeros(4)  # <- buffer
            return x

    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(Buffered(), (torch.randn(3),))
    assert info.value.category == Category.SIDE_EFFECT
    assert info.value.location == f"{THIS_FILE}:{_line('buffer')}"
    assert info.value.instruction.opname == "STORE_ATTR"
