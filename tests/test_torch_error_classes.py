"""Our errors are instances of the classes torch.export raises for the same situation, so code
written against torch.export (`except torch._dynamo.exc.UserError`, ...) catches ours."""
import pickle

import pytest
import torch
from torch._dynamo.exc import Unsupported, UserError, UserErrorType
from torch.export import Dim
from torch.fx.experimental.symbolic_shapes import ConstraintViolationError as TorchCVE

import strict_tracer
from strict_tracer.errors import ConstraintViolationError, GraphBreakError, UserInputError


class Specializes(torch.nn.Module):
    def forward(self, x):
        return x.view(4, -1) + 1          # size 0 of x must be a multiple of 4


class Branches(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x + 1
        return x - 1


def _both_raise(mod, args, **kw):
    """torch.export's error and ours for the same call."""
    with pytest.raises(Exception) as theirs:
        torch.export.export(mod, args, strict=True, **kw)
    with pytest.raises(Exception) as ours:
        strict_tracer.export(mod, args, **kw)
    return theirs.value, ours.value


def test_constraint_violation_is_torch_user_error_and_cve():
    spec = {"x": {0: Dim("dx")}}
    theirs, ours = _both_raise(Specializes(), (torch.randn(8, 3),), dynamic_shapes=spec)
    assert isinstance(theirs, UserError)
    assert isinstance(ours, ConstraintViolationError)
    assert isinstance(ours, UserError) and isinstance(ours, TorchCVE)
    assert ours.error_type is UserErrorType.CONSTRAINT_VIOLATION
    assert "Suggested fixes:" in str(ours)
    # torch's own parser reads our "Suggested fixes" block into a working spec.
    fixed = torch.export.dynamic_shapes.refine_dynamic_shapes_from_suggested_fixes(str(ours), spec)
    ep = strict_tracer.export(Specializes(), (torch.randn(8, 3),), dynamic_shapes=fixed)
    x = torch.randn(8, 3)
    torch.testing.assert_close(ep.module()(x), Specializes()(x))


def test_graph_break_is_torch_unsupported():
    theirs, ours = _both_raise(Branches(), (torch.randn(3),))
    assert isinstance(theirs, Unsupported)
    assert isinstance(ours, GraphBreakError) and isinstance(ours, Unsupported)
    assert ours.gb_type == ours.category and ours.msg == str(ours)


def test_bad_inputs_are_value_errors_and_torch_user_errors():
    theirs, ours = _both_raise(Branches(), torch.randn(3))
    assert isinstance(theirs, UserError) and "to be a tuple" in str(theirs)
    assert isinstance(ours, UserInputError)
    assert isinstance(ours, UserError) and isinstance(ours, ValueError)
    assert ours.error_type is UserErrorType.INVALID_INPUT
    assert "to be a tuple" in str(ours)


def test_script_module_error_class_and_words_match_torch():
    scripted = torch.jit.script(torch.nn.Linear(2, 2))
    theirs, ours = _both_raise(scripted, (torch.randn(2),))
    assert isinstance(theirs, ValueError) and isinstance(ours, ValueError)
    assert "Exporting a ScriptModule is not supported" in str(ours)


def test_errors_survive_pickling():
    cve = ConstraintViolationError("Constraints violated (dx)!", ("v",), ("dx = 4",))
    back = pickle.loads(pickle.dumps(cve))
    assert (str(back), back.violations, back.fixes) == (str(cve), ["v"], ["dx = 4"])
    assert isinstance(back, UserError)
    bad = pickle.loads(pickle.dumps(UserInputError("bad input")))
    assert str(bad) == "bad input" and isinstance(bad, ValueError)
