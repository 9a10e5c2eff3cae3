"""The forms `dynamic_shapes` takes, compared with torch.export, and malformed specs."""
import copy
import functools
import re
import warnings

import pytest
import torch
from torch.export import AdditionalInputs, Dim, ShapesCollection

import strict_tracer
from strict_tracer.errors import ConstraintViolationError, UserInputError
from support.dynamic_helpers import canonical
from support.helpers import assert_same, run_both


class Add(torch.nn.Module):
    def forward(self, x, y):
        return x + y


class Shifted(torch.nn.Module):
    def forward(self, x, y):
        return x[1:] + y


class Unshifted(torch.nn.Module):
    def forward(self, x, y):
        return x + y[1:]


class Nested(torch.nn.Module):
    def forward(self, xs, d, *, scale=1.0):
        return xs[0] * xs[1] + d["a"], d["b"].sum(0) * scale


def _same_as_torch(model, args, spec, kwargs=None, fresh=None, copy_inputs=True):
    ep = strict_tracer.export(model, args, kwargs, dynamic_shapes=spec)
    if copy_inputs:     # a ShapesCollection knows its tensors by identity
        args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    ref = torch.export.export(model, args, kwargs, dynamic_shapes=spec, strict=True)
    assert canonical(ep) == canonical(ref)
    if fresh is not None:
        got, want = run_both(model, ep, *fresh)
        assert_same(got, want)
    return ep


X, Y = torch.randn(4, 3), torch.randn(4, 3)


@pytest.mark.parametrize("spec", [
    {"x": (Dim.AUTO, Dim.AUTO), "y": (Dim.AUTO, Dim.AUTO)},
    ((Dim.AUTO, Dim.AUTO), (Dim.AUTO, Dim.AUTO)),
    [{0: Dim.AUTO}, {0: Dim.AUTO, 1: Dim.AUTO}],
    {"x": (Dim("b"), 3), "y": (Dim("b"), Dim.STATIC)},
    {"x": {0: Dim.DYNAMIC}, "y": {0: Dim.DYNAMIC}},
])
def test_spec_forms(spec):
    _same_as_torch(Add(), (X, Y), spec)


def test_nested_inputs_and_kwargs():
    b = Dim("b")
    args = ([torch.randn(5, 2), torch.randn(5, 2)], {"a": torch.randn(5, 2), "b": torch.randn(7, 2)})
    spec = {"xs": [(b, None), (b, None)], "d": {"a": (b, None), "b": (Dim.AUTO, None)},
            "scale": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ep = _same_as_torch(Nested(), args, spec, {"scale": 2.0})
    fresh = ([torch.randn(3, 2), torch.randn(3, 2)], {"a": torch.randn(3, 2), "b": torch.randn(9, 2)})
    got, want = run_both(Nested(), ep, fresh, {"scale": 2.0})
    assert_same(got, want)


def test_shapes_collection_and_additional_inputs():
    collection = ShapesCollection()
    collection[X] = (Dim.AUTO, Dim.AUTO)
    collection[Y] = (Dim.AUTO, Dim.AUTO)
    _same_as_torch(Add(), (X, Y), collection, fresh=((torch.randn(6, 3), torch.randn(6, 3)),),
                   copy_inputs=False)
    extra = AdditionalInputs()
    extra.add((torch.randn(7, 3), torch.randn(7, 3)))
    ep = _same_as_torch(Add(), (X, Y), extra)
    assert canonical(ep)[0] == [["a0", 3], ["a0", 3]]


def test_derived_dims():
    dx = Dim("dx")
    args = (torch.randn(6), torch.randn(5))
    ep = _same_as_torch(Shifted(), args, {"x": (dx + 1,), "y": (dx,)},
                        fresh=((torch.randn(9), torch.randn(8)),))
    with pytest.raises(AssertionError, match="Guard failed"):
        ep.module()(torch.randn(9), torch.randn(7))
    # A root that sizes no dimension itself.
    ep = _same_as_torch(Shifted(), args, {"x": (dx + 2,), "y": (dx + 1,)},
                        fresh=((torch.randn(4), torch.randn(3)),))
    with pytest.raises(AssertionError, match="Guard failed"):
        ep.module()(torch.randn(9), torch.randn(7))


def _guard_message(ep, *inputs) -> str:
    with pytest.raises(AssertionError, match="Guard failed") as info:
        ep.module()(*inputs)
    return str(info.value).splitlines()[0]


@pytest.mark.parametrize("spec", ["root_first", "root_second"])
def test_derived_dim_guards_read_as_torch_writes_them(spec):
    """An input dim offset from another's is checked as the root each gives, the earlier
    input's on the left: `x.size()[0] == -1 + y.size()[0]` (x: dx, y: dx + 1) and
    `-1 + x.size()[0] == y.size()[0]` (x: dx + 1, y: dx), as torch.export prints them."""
    dx = Dim("dx", min=3, max=20)
    if spec == "root_first":
        model, args, dims = Unshifted(), (torch.randn(5), torch.randn(6)), ({0: dx}, {0: dx + 1})
        bad = (torch.randn(4), torch.randn(6))
    else:
        model, args, dims = Shifted(), (torch.randn(6), torch.randn(5)), ({0: dx + 1}, {0: dx})
        bad = (torch.randn(9), torch.randn(7))
    ours = strict_tracer.export(model, args, dynamic_shapes=dims)
    theirs = torch.export.export(model, args, dynamic_shapes=dims, strict=True)
    assert _guard_message(ours, *bad) == _guard_message(theirs, *bad)
    good = (torch.randn(7), torch.randn(8)) if spec == "root_first" else (torch.randn(8), torch.randn(7))
    got, want = run_both(model, ours, good)
    assert_same(got, want)


class ThreeShifted(torch.nn.Module):
    def forward(self, x, y, z):
        return x + y[1:] + z[2:]


def test_a_plain_dim_equal_to_a_root_that_sizes_nothing_is_the_one_to_fix():
    """x: _r - 2, y: _r - 1, z: a plain Dim that tracing finds equal to `_r`: the fix is on
    the plain Dim (`d = _r`), told by the first dim derived from the root, as torch.export."""
    root = Dim("_r", min=6, max=8)
    dims = ({0: root - 2}, {0: root - 1}, {0: Dim("d", min=6, max=8)})
    args = (torch.randn(5), torch.randn(6), torch.randn(7))
    with pytest.raises(ConstraintViolationError) as ours:
        strict_tracer.export(ThreeShifted(), args, dynamic_shapes=dims)
    with pytest.raises(Exception) as theirs:
        torch.export.export(ThreeShifted(), args, dynamic_shapes=dims, strict=True)
    assert ours.value.fixes == ["d = _r"]
    lines = [line for line in str(ours.value).splitlines() if "must always be" in line]
    assert lines == ["  - The values of d = L['z'].size()[0] must always be related to the values "
                     "of _r - 2 = L['x'].size()[0] by d = _r."]
    assert lines[0] in str(theirs.value)


class Parity(torch.nn.Module):
    def forward(self, w):
        if w.shape[0] % 2 == 0:
            return w[::2]
        return w[1:-1:2]


@pytest.mark.parametrize("offset", [0, 1])
def test_a_dim_derived_from_a_root_that_sizes_nothing_keeps_its_divisibility(offset):
    """w: 2*dimx (+ 1), dimx sizing no input: a size of the other parity inside the range is
    rejected, as torch.export rejects it (it ran the branch traced for the other parity, a
    wrong result)."""
    dimx = Dim("dimx", min=3, max=6)
    model, spec = Parity(), ({0: dimx * 2 + offset},)
    ep = strict_tracer.export(model, (torch.randn(10 + offset),), dynamic_shapes=spec)
    theirs = torch.export.export(model, (torch.randn(10 + offset),), dynamic_shapes=spec)
    for n in range(6 + offset, 13 + offset):
        w = torch.randn(n)
        if (n - offset) % 2:
            ours = _guard_message(ep, w)
            # torch words the odd case as its branch guard (w.size()[0] % 2 != 0)
            assert ours == _guard_message(theirs, w) if offset == 0 else \
                ours == "Guard failed: (-1 + w.size()[0]) % 2 == 0"
        else:
            got, want = run_both(model, ep, (w,))
            assert_same(got, want)


def test_relation_the_spec_did_not_declare():
    dx, dy = Dim("dx"), Dim("dy")
    with pytest.raises(ConstraintViolationError) as info:
        strict_tracer.export(Shifted(), (torch.randn(6), torch.randn(5)),
                             dynamic_shapes={"x": (dx,), "y": (dy,)})
    assert info.value.fixes == ["dx = dy + 1"]


def test_auto_with_bounds():
    ep = _same_as_torch(Add(), (X, Y), {"x": (Dim.AUTO(min=3, max=9), 3), "y": (Dim.AUTO, 3)})
    assert canonical(ep)[1]["a0"] == ("3", "9")
    with pytest.raises(AssertionError, match="Guard failed"):
        ep.module()(torch.randn(10, 3), torch.randn(10, 3))


@pytest.mark.parametrize("spec, message", [
    ({"x": None, "z": None}, "top-level keys must be the arg names"),
    ({"x": (Dim.AUTO,), "y": None}, "to have the same length as the actual tensor shape"),
    ({"x": (Dim.AUTO, "b"), "y": None}, "Unexpected dimension #1"),
    ({"x": 5, "y": None}, "Unexpected input tensor shape 5"),
    ({"x": {7: Dim.AUTO}, "y": None}, "Unexpected dimension mapped to index 7"),
    ((None,), "has 2 elements, but `dynamic_shapes` has 1"),
    (5, "dynamic_shapes must be a dict, tuple, list"),
    ({"x": (Dim("a", max=9), None), "y": (Dim("a", max=10), None)}, "different definitions"),
])
def test_malformed_specs(spec, message):
    with pytest.raises(UserInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        strict_tracer.export(Add(), (X, Y), dynamic_shapes=spec)


def test_spec_for_a_non_tensor_and_container_mismatch():
    class M(torch.nn.Module):
        def forward(self, x, n, ys):
            return x * n + ys[0]
    args = (torch.randn(3), 2, [torch.randn(3)])
    with pytest.raises(UserInputError, match=r"expected None, Dim.AUTO, Dim.DYNAMIC or Dim.STATIC"):
        strict_tracer.export(M(), args, dynamic_shapes={"x": None, "n": (Dim.AUTO,), "ys": None})
    with pytest.raises(UserInputError, match="non-tensor type float"):
        strict_tracer.export(M(), (args[0], 2.0, args[2]),
                             dynamic_shapes={"x": None, "n": Dim.AUTO, "ys": None})
    with pytest.raises(UserInputError, match=re.escape(
            "`inputs['ys']` is a <class 'list'>, but `dynamic_shapes['ys']` is a <class 'tuple'>")):
        strict_tracer.export(M(), args, dynamic_shapes={"x": None, "n": None, "ys": ((Dim.AUTO,),)})


class NestedLists(torch.nn.Module):
    def forward(self, x):
        return x["k"]["k"][0] + x["k"]["k"][1]


@pytest.mark.parametrize("spec, message", [
    ({"k": {"k": [Dim("d"), Dim("d")]}}, "Unexpected input tensor shape Dim('d', min=0) specified "
     "at `dynamic_shapes[0]['k']['k'][0]` (expected either a list/tuple of dimensions"),
    ({"k": {"k": (None, None)}}, "`inputs[0]['k']['k']` is a <class 'list'>, but "
     "`dynamic_shapes[0]['k']['k']` is a <class 'tuple'>"),
    ({"k": {"k": Dim("d")}}, "`inputs[0]['k']['k']` is a <class 'list'>, but "
     "`dynamic_shapes[0]['k']['k']` is not"),
    ({"k": {"k": [None, None, None]}}, "`inputs[0]['k']['k']` has 2 elements, but "
     "`dynamic_shapes[0]['k']['k']` has 3 elements"),
    ({"k": {"K": [None, None]}}, "`inputs[0]['k']` has keys ['k'], but `dynamic_shapes[0]['k']` "
     "has keys ['K']"),
    ({"k": {"k": [(Dim("d"), 1), None]}}, "Expected dynamic shape spec (Dim('d', min=0), 1) "
     "specified at `dynamic_shapes[0]['k']['k'][0]` to have the same length as the actual tensor "
     "shape torch.Size([4]) (expected 1, but got 2 instead)"),
    ({"k": {"k": [("a",), None]}}, "Unexpected dimension #0 in input tensor shape ('a',) "
     "specified at `dynamic_shapes[0]['k']['k'][0]`"),
])
def test_a_malformed_spec_is_named_where_the_user_wrote_it(spec, message):
    """A spec given in argument order names places by position (`dynamic_shapes[0]...`, and
    the input `inputs[0]...`), one given by argument name by name, as torch.export does."""
    inputs = ({"k": {"k": [torch.rand(4), torch.rand(4)]}},)
    with pytest.raises(torch._dynamo.exc.UserError, match=re.escape(message)):
        strict_tracer.export(NestedLists(), inputs, dynamic_shapes=(spec,))
    with pytest.raises(torch._dynamo.exc.UserError, match=re.escape(
            message.replace("[0]['k']", "['x']['k']"))):
        strict_tracer.export(NestedLists(), inputs, dynamic_shapes={"x": spec})


def test_example_inputs_that_contradict_the_spec():
    with pytest.raises(ConstraintViolationError, match="not in range"):
        strict_tracer.export(Add(), (torch.randn(20, 3), torch.randn(20, 3)),
                             dynamic_shapes={"x": (Dim("b", max=10), 3), "y": (Dim("b", max=10), 3)})
    with pytest.raises(ConstraintViolationError, match="is not equal to"):
        strict_tracer.export(Shifted(), (torch.randn(6), torch.randn(5)),
                             dynamic_shapes={"x": (Dim("d"),), "y": (Dim("d"),)})
    with pytest.raises(ConstraintViolationError, match="to be equal to dx \\+ 1"):
        dx = Dim("dx")
        strict_tracer.export(Shifted(), (torch.randn(6), torch.randn(5)),
                             dynamic_shapes={"x": (2 * dx,), "y": (dx + 1,)})


class PlusTwo(torch.nn.Module):
    def forward(self, x):
        return x + 2


class AtMost32(torch.nn.Module):
    def forward(self, x):
        assert x.shape[0] <= 32
        return x + 2


def test_every_dynamic_hint_an_example_contradicts_is_listed_as_a_conflict():
    with pytest.raises(ValueError) as info:
        strict_tracer.export(PlusTwo(), (torch.randn(0, 1),),
                             dynamic_shapes={"x": {0: Dim.DYNAMIC, 1: Dim.DYNAMIC}})
    lines = str(info.value).splitlines()
    assert lines[0] == ("Found the following conflicts between user-specified ranges and "
                        "inferred ranges from model tracing:")
    assert [line.rsplit(" for dimension ", 1)[1] for line in lines[1:]] == \
        ["inputs['x'].shape[0].", "inputs['x'].shape[1]."]
    assert "0/1 specialized due to hint of 0" in lines[1] and "hint of 1" in lines[2]
    assert isinstance(info.value, ConstraintViolationError)


def test_a_dynamic_hint_whose_bounds_leave_one_size_is_a_range_conflict():
    with pytest.raises(ValueError, match=r"Received user-specified dim hint Dim.DYNAMIC\(min=32, "
                                         r"max=None\), but tracing inferred a static shape of 32 "
                                         r"for dimension inputs\['x'\]\.shape\[0\]"):
        strict_tracer.export(AtMost32(), (torch.randn(32),),
                             dynamic_shapes={"x": {0: Dim.DYNAMIC(min=32)}})
    ep = strict_tracer.export(AtMost32(), (torch.randn(32),),
                              dynamic_shapes={"x": {0: Dim.DYNAMIC(min=8)}})
    assert [(int(r.lower), int(r.upper)) for r in ep.range_constraints.values()] == [(8, 32)]


class Bands(torch.nn.Module):
    def forward(self, xs):
        x, y = xs["data"][0]
        assert x.shape[0] <= 32
        assert y.shape[0] >= 128
        return x + 2, y + 2


_CONFLICTS = "Found the following conflicts between user-specified ranges and inferred ranges"


def _conflict(message: str) -> list:
    return re.findall(r"Received user-specified min/max range of \[(\S+), (\S+)\], conflicting with "
                      r"the inferred min/max range of \[(\S+), (\S+)\], for (\S+)\.$", message,
                      re.MULTILINE)


@pytest.mark.parametrize("spec, expected", [
    ([Dim.DYNAMIC(min=33), Dim.DYNAMIC(max=127)],
     [("33", "None", "2", "32", "inputs['xs']['data'][0][0].shape[0]"),
      ("None", "127", "128", "int_oo", "inputs['xs']['data'][0][1].shape[0]")]),
    ([Dim.AUTO(min=48, max=62), Dim.AUTO],
     [("48", "62", "2", "32", "inputs['xs']['data'][0][0].shape[0]")]),
    ([Dim.STATIC(min=20, max=30), Dim.STATIC],
     [("20", "30", "16", "16", "inputs['xs']['data'][0][0].shape[0]")]),
])
def test_an_example_outside_a_hint_range_is_traced_and_the_ranges_compared(spec, expected):
    """An example outside a Dim.AUTO/DYNAMIC range is traced as torch.export traces it (over
    every size), and the range tracing inferred is compared with the declared one: each pair
    that does not meet is a conflict (a ValueError), with torch.export's words and figures."""
    x, y = torch.randn(16), torch.randn(256)
    shapes = ShapesCollection()
    shapes[x], shapes[y] = [spec[0]], [spec[1]]
    inputs = ({"data": [[x, y]]},)
    with pytest.raises(ValueError) as ours:
        strict_tracer.export(Bands(), inputs, dynamic_shapes=shapes)
    with pytest.raises(ValueError) as theirs:
        torch.export.export(Bands(), inputs, dynamic_shapes=shapes, strict=True)
    assert str(ours.value).startswith(_CONFLICTS)
    assert _conflict(str(ours.value)) == _conflict(str(theirs.value)) == expected


def test_an_example_outside_a_range_tracing_meets_is_refused():
    """torch.export returns a program that rejects its own example here (range [2, 10] for
    an example of 12); strict_tracer refuses, as for an int input outside its range."""
    with pytest.raises(ConstraintViolationError, match=re.escape(
            "L['x'].size()[0] = 12 is not in range [2, 10] given by Dim.DYNAMIC(min=2, max=10)")):
        strict_tracer.export(PlusTwo(), (torch.randn(12),),
                             dynamic_shapes={"x": [Dim.DYNAMIC(min=2, max=10)]})


class SlicedSum(torch.nn.Module):
    def forward(self, x, y, z):
        return (x + y[0])[:3] * z["k"]       # x, y[0]: one size >= 3; z["k"]: 3


def _additional(*examples):
    extra = AdditionalInputs()
    for example in examples:
        extra.add(example)
    return extra


@pytest.mark.parametrize("bad, message", [
    ((torch.randn(2), [torch.randn(2)], {"k": torch.randn(3)}), r"to be >= 3, but got 2"),
    ((torch.randn(6), [torch.randn(7)], {"k": torch.randn(3)}), r"to be equal to 6, but got 7"),
])
def test_additional_inputs_that_break_a_guard_are_refused_as_torch_refuses_them(bad, message):
    args = (torch.randn(4), [torch.randn(4)], {"k": torch.randn(3)})
    for export in (functools.partial(torch.export.export, strict=True), strict_tracer.export):
        with pytest.raises(RuntimeError, match=message):
            export(SlicedSum(), args, dynamic_shapes=_additional(bad))
    with pytest.raises(RuntimeError):
        SlicedSum()(*bad)                                # eager fails on them too


def test_additional_inputs_that_meet_the_guards_export_and_run_like_eager():
    args = (torch.randn(4), [torch.randn(4)], {"k": torch.randn(3)})
    good = (torch.randn(5), [torch.randn(5)], {"k": torch.randn(3)})
    ep = strict_tracer.export(SlicedSum(), args, dynamic_shapes=_additional(good))
    for fresh in (good, (torch.randn(9), [torch.randn(9)], {"k": torch.randn(3)})):
        torch.testing.assert_close(ep.module()(*fresh), SlicedSum()(*fresh))


class Residue(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a

    def forward(self, w):
        r = w.shape[0] % self.a
        return w[r:] * (r + 1)


@pytest.mark.parametrize("a, b", [(2, 0), (2, 1), (3, 0), (3, 2), (4, 1)])
def test_sizes_outside_a_scaled_root_are_rejected_or_run_like_eager(a, b):
    """w: a*d + b with d sizing no input: every size in the range either runs like eager or is
    rejected by a guard (never the program traced for the example's residue)."""
    d = Dim("d", min=2, max=5)
    model = Residue(a)
    ep = strict_tracer.export(model, (torch.randn(3 * a + b),), dynamic_shapes=({0: d * a + b},))
    for n in range(2 * a + b, 5 * a + b + 1):
        w = torch.randn(n)
        try:
            got = ep.module()(w)
        except AssertionError as exc:
            assert "Guard failed" in str(exc) and (n - b) % a
            continue
        assert (n - b) % a == 0
        torch.testing.assert_close(got, model(w))
