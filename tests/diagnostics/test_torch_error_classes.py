"""Our errors are instances of the classes torch.export raises for the same situation, so code
written against torch.export (`except torch._dynamo.exc.UserError`, ...) catches ours."""
import pickle

import pytest
import torch
from torch._dynamo.exc import TorchRuntimeError, Unsupported, UserError, UserErrorType
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


def test_rnn_switch_of_torch_export_config_is_honoured():
    from torch.export._trace import DEFAULT_EXPORT_DYNAMO_CONFIG as config

    lstm = torch.nn.LSTM(input_size=4, hidden_size=5)
    x = torch.rand(5, 4)
    ep = strict_tracer.export(lstm, (x,))
    torch.testing.assert_close(ep.module()(x), lstm(x))
    config.allow_rnn = False
    try:
        theirs, ours = _both_raise(lstm, (x,))
    finally:
        config.allow_rnn = True
    assert isinstance(theirs, Unsupported) and isinstance(ours, Unsupported)
    assert "Dynamo does not support RNN, GRU, or LSTM." in str(ours)


def test_dim_hint_conflicts_are_value_errors_as_in_torch():
    class Add(torch.nn.Module):
        def forward(self, x):
            return x + 1

    theirs, ours = _both_raise(Add(), (torch.randn(1, 3),),
                               dynamic_shapes={"x": {0: Dim.DYNAMIC}})
    assert isinstance(theirs, ValueError) and isinstance(ours, ValueError)
    assert "but export 0/1 specialized due to hint of 1 for dimension inputs['x'].shape[0]" \
        in str(ours)


def test_derived_dim_and_range_messages_use_torch_words():
    class Add(torch.nn.Module):
        def forward(self, w):
            return w + 1

    dx = Dim("dx")
    with pytest.raises(UserError, match=r"Expected shape\[0\] = 10 of input Tensor to be of the "
                                         r"form 2\*dx \+ 1, where dx is an integer"):
        strict_tracer.export(Add(), (torch.randn(10),), dynamic_shapes={"w": {0: 2 * dx + 1}})
    with pytest.raises(UserError, match="not in range"):
        strict_tracer.export(Add(), (torch.randn(3),), dynamic_shapes={"w": {0: Dim("d", min=6)}})


def test_dict_spec_for_a_single_dict_input_suggests_a_tuple():
    class TakesDict(torch.nn.Module):
        def forward(self, x):
            return x["k"] + 1

    inputs = ({"k": torch.randn(3)},)
    spec = {"k": {0: Dim("d")}}            # forgot to wrap the spec in a tuple
    theirs, ours = _both_raise(TakesDict(), inputs, dynamic_shapes=spec)
    assert isinstance(ours, UserError) and isinstance(theirs, UserError)
    assert "maybe you just forgot to enclose `dynamic_shapes` in a list/tuple?" in str(theirs)
    assert "maybe you just forgot to enclose `dynamic_shapes` in a list/tuple?" in str(ours)


def test_guard_on_data_dependent_size_is_torch_user_error():
    class CountBranch(torch.nn.Module):
        def forward(self, x):
            if x.nonzero().shape[0] > 2:
                return x.cos()
            return x.sin()

    theirs, ours = _both_raise(CountBranch(), (torch.tensor([2, 3, 5]),))
    assert isinstance(theirs, UserError)
    assert isinstance(ours, GraphBreakError) and isinstance(ours, UserError)
    assert ours.error_type is UserErrorType.ANTI_PATTERN
    assert "torch._check" in str(ours)
    back = pickle.loads(pickle.dumps(ours))
    assert type(back) is type(ours) and str(back) == str(ours)
    # A branch on a tensor's value stays an Unsupported graph break, as in torch.export.
    _, plain = _both_raise(Branches(), (torch.randn(3),))
    assert not isinstance(plain, UserError)


class GroupedHeads(torch.nn.Module):
    def forward(self, q, k, v):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True)


class IndexesPastTheEnd(torch.nn.Module):
    def forward(self, x):
        return x.select(0, 5)


class CatchesTheOpError(torch.nn.Module):
    def forward(self, x):
        try:
            return x.select(0, 5)
        except IndexError:
            return x + 1


def _eager_error(mod, args):
    with pytest.raises(Exception) as eager:
        mod(*args)
    return eager.value


def test_a_kernel_runtime_error_forward_lets_out_is_torch_runtime_error_and_eagers():
    mod = GroupedHeads()
    args = (torch.randn(1, 6, 4, 2), torch.randn(1, 4, 4, 2), torch.randn(1, 4, 4, 2))
    theirs, ours = _both_raise(mod, args)
    eager = _eager_error(mod, args)
    assert isinstance(theirs, TorchRuntimeError) and type(eager) is RuntimeError
    assert isinstance(ours, TorchRuntimeError) and isinstance(ours, RuntimeError)
    assert str(eager).strip() in str(ours)


def test_a_kernel_index_error_forward_lets_out_stays_an_index_error_as_in_torch():
    theirs, ours = _both_raise(IndexesPastTheEnd(), (torch.randn(3, 2),))
    assert type(theirs) is IndexError and type(ours) is IndexError
    assert str(theirs) in str(ours)


def test_a_kernel_error_forward_catches_stays_eagers_class():
    x = torch.randn(3, 2)
    ep = strict_tracer.export(CatchesTheOpError(), (x,))
    torch.testing.assert_close(ep.module()(x), CatchesTheOpError()(x))
