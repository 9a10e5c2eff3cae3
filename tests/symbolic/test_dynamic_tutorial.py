"""The reference tutorial's "Constraints/Dynamic Shapes" section, against torch.export strict."""
import copy
import re
import warnings

import pytest
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.errors import ConstraintViolationError
from support.dynamic_helpers import canonical, violation_lines
from support.helpers import assert_same, run_both


class DynamicModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(5, 3)

    def forward(self, w, x, y, z):
        x0 = x + y
        x1 = self.l(w)
        x2 = x0.flatten()
        x3 = x2 + z
        return x1, x3


class GuardedModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(5, 3)

    def forward(self, w, x, y, z):
        assert w.shape[0] <= 512
        torch._check(x.shape[0] >= 4)
        if w.shape[0] == x.shape[0] + 2:
            x0 = x + y
            x1 = self.l(w)
            x2 = x0.flatten()
            x3 = x2 + z
            return x1, x3
        else:
            return w


INPUTS = (torch.randn(6, 5), torch.randn(4), torch.randn(8, 4), torch.randn(32))
AUTO = {"w": (Dim.AUTO, Dim.AUTO), "x": (Dim.AUTO,), "y": (Dim.AUTO, Dim.AUTO), "z": (Dim.AUTO,)}


def _both(model, args, spec):
    ours = strict_tracer.export(model, args, dynamic_shapes=spec)
    ref = torch.export.export(model, copy.deepcopy(args), dynamic_shapes=spec, strict=True)
    return ours, ref


def _guard_error(fn) -> str:
    with pytest.raises(AssertionError, match="Guard failed") as info:
        fn()
    return str(info.value)


def test_auto_shapes_and_ranges_match_torch():
    ours, ref = _both(DynamicModel(), INPUTS, AUTO)
    shapes, ranges = canonical(ours)
    assert shapes == [["a0", 5], ["a1"], ["a2", "a1"], ["a1*a2"]]     # w: [s0, 5] ... z: [s2*s3]
    assert (shapes, ranges) == canonical(ref)
    assert str(ours.graph_signature) == str(ref.graph_signature)
    assert [str(n.target) for n in ours.graph.nodes if n.op == "call_function"] == \
        [str(n.target) for n in ref.graph.nodes if n.op == "call_function"]


def test_auto_program_runs_other_shapes_and_rejects_violations():
    model = DynamicModel()
    ep = strict_tracer.export(model, INPUTS, dynamic_shapes=AUTO)
    fresh = (torch.randn(3, 5), torch.randn(7), torch.randn(2, 7), torch.randn(14))
    got, want = run_both(model, ep, fresh)
    assert_same(got, want)
    message = _guard_error(lambda: ep.module()(torch.randn(3, 5), torch.randn(7), torch.randn(2, 7),
                                               torch.randn(15)))
    assert "z.size()[0]" in message
    message = _guard_error(lambda: ep.module()(torch.randn(3, 6), *fresh[1:]))
    assert "w.size()[1] == 5" in message


def test_static_program_names_the_failing_dimension():
    ep = strict_tracer.export(DynamicModel(), INPUTS)
    message = _guard_error(lambda: ep.module()(INPUTS[0], INPUTS[1], torch.randn(3, 4), torch.randn(12)))
    assert message == "Guard failed: y.size()[0] == 8"


@pytest.mark.parametrize("spec, source, value", [
    ({"w": (Dim.AUTO, Dim.DYNAMIC), "x": (Dim.AUTO,), "y": (Dim.AUTO, Dim.AUTO), "z": (Dim.AUTO,)},
     "L['w'].size()[1]", 5),
    ({"w": (Dim.AUTO, Dim.AUTO), "x": (Dim.STATIC,), "y": (Dim.AUTO, Dim.DYNAMIC), "z": (Dim.AUTO,)},
     "L['y'].size()[1]", 4),
])
def test_dim_dynamic_specialization_is_a_violation(spec, source, value):
    with pytest.raises(ConstraintViolationError) as ours:
        strict_tracer.export(DynamicModel(), INPUTS, dynamic_shapes=spec)
    with pytest.raises(Exception) as ref:
        torch.export.export(DynamicModel(), INPUTS, dynamic_shapes=spec, strict=True)
    assert f"You marked {source} as dynamic but your code specialized it to be a constant ({value})" \
        in str(ours.value)
    assert violation_lines(str(ours.value)) == violation_lines(str(ref.value))


def test_assert_check_and_if_eliminate_a_symbol():
    model = GuardedModel()
    ours, ref = _both(model, INPUTS, AUTO)
    shapes, ranges = canonical(ours)
    assert shapes == [["a0 + 2", 5], ["a0"], ["a1", "a0"], ["a0*a1"]]   # s0 -> s2 + 2
    assert ranges["a0"] == ("4", "510") and ranges["a0 + 2"] == ("6", "512")
    assert (shapes, ranges) == canonical(ref)
    got, want = run_both(model, ours, (torch.randn(9, 5), torch.randn(7), torch.randn(3, 7),
                                       torch.randn(21)))
    assert_same(got, want)
    message = _guard_error(lambda: ours.module()(torch.randn(9, 5), torch.randn(8), torch.randn(3, 8),
                                                 torch.randn(24)))
    # x.size()[0] == y.size()[1]: one symbol, printed as torch.export keeps it (y's, s0)
    assert message == "Guard failed: w.size()[0] == 2 + y.size()[1]"
    _guard_error(lambda: ours.module()(torch.randn(5, 5), torch.randn(3), torch.randn(3, 3),
                                       torch.randn(9)))                    # x < 4


def test_zero_one_specialization_warns_and_guards():
    spec = {"input": (Dim.AUTO, Dim.STATIC)}
    with pytest.warns(UserWarning, match=re.escape("inputs['input'].shape[0] 0/1 specialized")):
        ep = strict_tracer.export(torch.nn.Linear(4, 3), (torch.randn(1, 4),), dynamic_shapes=spec)
    assert ep.range_constraints == {}
    assert _guard_error(lambda: ep.module()(torch.randn(2, 4))) == \
        "Guard failed: input.size()[0] == 1"


def test_zero_one_with_dim_dynamic_is_refused():
    spec = {"input": (Dim.DYNAMIC, Dim.STATIC)}
    with pytest.raises(ConstraintViolationError, match="0/1 specialized due to hint of 1"):
        strict_tracer.export(torch.nn.Linear(4, 3), (torch.randn(1, 4),), dynamic_shapes=spec)


class Foo(torch.nn.Module):
    def forward(self, x, y):
        w = x + y
        return w + torch.ones(4)


def test_named_dims_suggested_fixes_match_torch_and_apply():
    dx, dy, d1 = torch.export.dims("dx", "dy", "d1")
    spec = {"x": (dx, d1), "y": (dy, d1)}
    args = (torch.randn(6, 4), torch.randn(6, 4))
    with pytest.raises(ConstraintViolationError) as ours:
        strict_tracer.export(Foo(), args, dynamic_shapes=spec)
    with pytest.raises(Exception) as ref:
        torch.export.export(Foo(), args, dynamic_shapes=spec, strict=True)
    assert ours.value.fixes == ["d1 = 4", "dy = dx"]
    assert violation_lines(str(ours.value)) == violation_lines(str(ref.value))
    fixed = torch.export.dynamic_shapes.refine_dynamic_shapes_from_suggested_fixes(str(ours.value), spec)
    ep = strict_tracer.export(Foo(), args, dynamic_shapes=fixed)
    ref_ep = torch.export.export(Foo(), args, dynamic_shapes=fixed, strict=True)
    assert canonical(ep) == canonical(ref_ep)
    got, want = run_both(Foo(), ep, (torch.randn(9, 4), torch.randn(9, 4)))
    assert_same(got, want)


def test_named_dim_range_narrowed_by_the_program():
    class Small(torch.nn.Module):
        def forward(self, x):
            assert x.shape[0] <= 5
            return x * 2
    for dim in (Dim("dx", max=10), Dim("dx", min=3, max=10)):
        spec = {"x": (dim,)}
        with pytest.raises(ConstraintViolationError) as ours:
            strict_tracer.export(Small(), (torch.randn(4),), dynamic_shapes=spec)
        with pytest.raises(Exception) as ref:
            torch.export.export(Small(), (torch.randn(4),), dynamic_shapes=spec, strict=True)
        assert violation_lines(str(ours.value)) == violation_lines(str(ref.value))


def test_named_dim_divisibility_suggests_a_derived_dim():
    class View(torch.nn.Module):
        def forward(self, x):
            return x.view(-1, 2)
    spec = {"x": (Dim("dx"),)}
    with pytest.raises(ConstraintViolationError) as ours:
        strict_tracer.export(View(), (torch.randn(6),), dynamic_shapes=spec)
    assert "_dx = Dim('_dx', min=1)" in ours.value.fixes and "dx = 2*_dx" in ours.value.fixes
    fixed = torch.export.dynamic_shapes.refine_dynamic_shapes_from_suggested_fixes(str(ours.value), spec)
    ep = strict_tracer.export(View(), (torch.randn(6),), dynamic_shapes=fixed)
    got, want = run_both(View(), ep, (torch.randn(10),))
    assert_same(got, want)


def test_none_and_ints_in_specs_are_static():
    inputs = (torch.randn(4, 4), torch.randn(3, 3), 16, False)

    class M(torch.nn.Module):
        def forward(self, tensor_0, tensor_1, int_val, bool_val):
            return tensor_0.sum(0) * int_val, tensor_1 + 1
    spec = {"tensor_0": (Dim.AUTO, None), "tensor_1": None, "int_val": None, "bool_val": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, ref = _both(M(), inputs, spec)
    assert canonical(ours) == canonical(ref)
    with pytest.raises(ConstraintViolationError, match="Static shape constraint of 5"):
        strict_tracer.export(M(), inputs, dynamic_shapes={"tensor_0": (Dim.AUTO, 5), "tensor_1": None,
                                                          "int_val": None, "bool_val": None})
