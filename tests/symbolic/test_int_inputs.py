"""Python int inputs made dynamic with Dim.AUTO / Dim.DYNAMIC: symbolic inputs as torch.export
makes them (a `Sym` placeholder, a SymIntArgument, a range narrowed by branches)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st
import torch
from torch.export import AdditionalInputs, Dim, ShapesCollection
from torch.export.dynamic_shapes import _IntWrapper
from torch.export.graph_signature import ConstantArgument, SymIntArgument

import strict_tracer
from strict_tracer import ConstraintViolationError, UserInputError


class Scale(torch.nn.Module):
    def forward(self, n, y):
        return y * n + n


class Product(torch.nn.Module):
    def forward(self, a, b):
        return a * b


class Rows(torch.nn.Module):
    def forward(self, n, y):
        return y.view(n, -1)


class Branch(torch.nn.Module):
    def forward(self, n, y):
        if n > 2:
            return y + n
        return y - n


class Pinned(torch.nn.Module):
    def forward(self, n, y):
        assert n == 3
        return y * n


class Window(torch.nn.Module):
    def forward(self, n, y):
        assert n > 3
        assert n <= 5
        return y * n


def _ranges(ep):
    return sorted((int(r.lower), r.upper if r.upper == r.upper else None)
                  for r in ep.range_constraints.values())


def _input_args(ep):
    return [spec.arg for spec in ep.graph_signature.input_specs]


@pytest.mark.parametrize("hint", [Dim.DYNAMIC, Dim.AUTO])
def test_a_dynamic_int_is_a_symbolic_input_that_runs_at_other_values(hint):
    ep = strict_tracer.export(Scale(), (4, torch.ones(3)), dynamic_shapes=(hint, None))
    first = _input_args(ep)[0]
    assert isinstance(first, SymIntArgument) and first.name == "n"
    placeholder = next(iter(ep.graph.nodes))
    assert isinstance(placeholder.meta["val"], torch.SymInt)
    for n in (0, 1, 7, 100):
        y = torch.randn(3)
        torch.testing.assert_close(ep.module()(n, y), Scale()(n, y))
    # torch.export prints VR[0, int_oo] here yet runs negative ints unchecked; ours is the
    # range the program was traced for.
    assert [str(r) for r in ep.range_constraints.values()] == ["VR[-int_oo, int_oo]"]


def test_an_int_left_static_is_a_constant_the_program_checks():
    ep = strict_tracer.export(Scale(), (4, torch.ones(3)))
    assert _input_args(ep)[0] == ConstantArgument("n", 4)
    with pytest.raises(AssertionError, match="Guard failed: n == 4"):
        ep.module()(5, torch.ones(3))


def test_two_dynamic_ints_return_their_symbolic_product():
    ep = strict_tracer.export(Product(), (4, 5), dynamic_shapes={"a": Dim.DYNAMIC, "b": Dim.AUTO})
    assert ep.module()(3, 6) == 18
    assert all(isinstance(arg, SymIntArgument) for arg in _input_args(ep))
    output = next(n for n in ep.graph.nodes if n.op == "output").args[0][0]
    assert isinstance(output.meta["val"], torch.SymInt)


def test_an_int_sizes_a_view_of_a_dynamic_tensor():
    ep = strict_tracer.export(Rows(), (3, torch.ones(6)),
                              dynamic_shapes={"n": Dim.DYNAMIC, "y": (Dim.DYNAMIC,)})
    for n, size in ((2, 8), (5, 20), (3, 6)):
        y = torch.randn(size)
        torch.testing.assert_close(ep.module()(n, y), Rows()(n, y))


def test_a_branch_on_a_dynamic_int_narrows_its_range():
    ep = strict_tracer.export(Branch(), (3, torch.ones(6)), dynamic_shapes=(Dim.DYNAMIC, None))
    assert _ranges(ep)[0][0] == 3
    y = torch.randn(6)
    torch.testing.assert_close(ep.module()(9, y), Branch()(9, y))
    with pytest.raises(AssertionError, match="n >= 3"):
        ep.module()(2, y)


@pytest.mark.parametrize("hint", [Dim.DYNAMIC(min=3, max=10), Dim.AUTO(min=3, max=10),
                                  Dim.DYNAMIC])
def test_asserts_on_a_dynamic_int_narrow_like_torch(hint):
    ours = strict_tracer.export(Window(), (4, torch.ones(2)), dynamic_shapes=(hint, None))
    theirs = torch.export.export(Window(), (4, torch.ones(2)), dynamic_shapes=(hint, None))
    assert [str(r) for r in ours.range_constraints.values()] == \
        [str(r) for r in theirs.range_constraints.values()] == ["VR[4, 5]"]


def test_declared_bounds_are_checked_by_the_program():
    ep = strict_tracer.export(Scale(), (3, torch.ones(2)),
                              dynamic_shapes=(Dim.DYNAMIC(min=3, max=10), None))
    torch.testing.assert_close(ep.module()(10, torch.ones(2)), Scale()(10, torch.ones(2)))
    with pytest.raises(AssertionError, match="n <= 10"):
        ep.module()(16, torch.ones(2))
    with pytest.raises(AssertionError, match="n >= 3"):
        ep.module()(2, torch.ones(2))


def test_an_example_outside_its_declared_bounds_is_refused():
    with pytest.raises(ConstraintViolationError, match=r"L\['n'\] = 14 is not in range \[3, 10\]"):
        strict_tracer.export(Scale(), (14, torch.ones(2)),
                             dynamic_shapes=(Dim.DYNAMIC(min=3, max=10), None))


class Between(torch.nn.Module):
    def forward(self, n, y):
        assert n > 10
        assert n < 20
        return y * n


def test_an_example_whose_traced_range_misses_the_declared_one_is_torch_exports_conflict():
    """Traced at the example over every int, the asserts leave [11, 19], which misses the
    declared [3, 10]: torch.export's ValueError with both ranges (its words)."""
    with pytest.raises(ValueError) as info:
        strict_tracer.export(Between(), (14, torch.ones(2)),
                             dynamic_shapes=(Dim.DYNAMIC(min=3, max=10), None))
    assert isinstance(info.value, ConstraintViolationError)
    assert ("Received user-specified min/max range of [3, 10], conflicting with the inferred "
            "min/max range of [11, 19], for inputs['n'].") in str(info.value)
    with pytest.raises(ValueError, match=r"\[3, 10\], conflicting with .* \[11, 19\]"):
        torch.export.export(Between(), (14, torch.ones(2)),
                            dynamic_shapes=(Dim.DYNAMIC(min=3, max=10), None))


def test_specializing_a_dynamic_int_is_a_constraint_violation():
    with pytest.raises(torch._dynamo.exc.UserError,
                       match=r"You marked L\['n'\] as dynamic but your code specialized it to "
                             r"be a constant \(3\).*Dim.STATIC or Dim.AUTO") as info:
        strict_tracer.export(Pinned(), (3, torch.ones(2)), dynamic_shapes=(Dim.DYNAMIC, None))
    assert isinstance(info.value, ConstraintViolationError)


def test_specializing_an_auto_int_keeps_it_checked():
    ep = strict_tracer.export(Pinned(), (3, torch.ones(2)), dynamic_shapes=(Dim.AUTO, None))
    assert isinstance(_input_args(ep)[0], SymIntArgument)
    assert ep.range_constraints == {}
    torch.testing.assert_close(ep.module()(3, torch.ones(2)), Pinned()(3, torch.ones(2)))
    with pytest.raises(AssertionError, match="Guard failed: n == 3"):
        ep.module()(4, torch.ones(2))


def test_named_dims_on_ints_and_dims_on_floats_are_refused():
    with pytest.raises(UserInputError, match="Unable to specify input integers as dynamic "
                                             "through named Dims"):
        strict_tracer.export(Scale(), (4, torch.ones(2)), dynamic_shapes=(Dim("n"), None))
    with pytest.raises(UserInputError, match="non-tensor type float"):
        strict_tracer.export(Scale(), (4.0, torch.ones(2)), dynamic_shapes=(Dim.DYNAMIC, None))


def test_ints_inside_containers_and_through_collections():
    class Keyed(torch.nn.Module):
        def forward(self, d, y):
            return d["k"] * y

    ep = strict_tracer.export(Keyed(), ({"k": 2}, torch.ones(3, 3)),
                              dynamic_shapes={"d": {"k": Dim.DYNAMIC}, "y": {0: Dim.DYNAMIC}})
    y = torch.randn(5, 3)
    torch.testing.assert_close(ep.module()({"k": 7}, y), Keyed()({"k": 7}, y))

    args = (_IntWrapper(5), _IntWrapper(5))
    collection = ShapesCollection()
    collection[args[0]] = Dim.DYNAMIC
    collection[args[1]] = Dim.DYNAMIC
    ep = strict_tracer.export(Product(), args, dynamic_shapes=collection)
    assert ep.module()(3, 5) == 15 and ep.module()(5, 4) == 20

    additional = AdditionalInputs()
    for example in ((5, 5), (3, 5), (5, 4)):
        additional.add(example)
    ep = strict_tracer.export(Product(), (6, 7), dynamic_shapes=additional)
    assert ep.module()(3, 5) == 15 and ep.module()(5, 4) == 20


class Sign(torch.nn.Module):
    def forward(self, n, y):
        return y if n >= 0 else -y


def test_a_dynamic_int_may_be_negative_and_branches_on_its_sign_are_guarded():
    """The range torch prints for an int input is [0, inf), but ints are not sizes: a negative
    example exports, negative values run, and a branch on the sign is checked, not assumed."""
    ep = strict_tracer.export(Scale(), (-3, torch.ones(3)), dynamic_shapes=(Dim.DYNAMIC, None))
    for n in (-7, 0, 7):
        torch.testing.assert_close(ep.module()(n, torch.ones(3)), Scale()(n, torch.ones(3)))
    ep = strict_tracer.export(Sign(), (4, torch.ones(3)), dynamic_shapes=(Dim.DYNAMIC, None))
    torch.testing.assert_close(ep.module()(5, torch.ones(3)), Sign()(5, torch.ones(3)))
    with pytest.raises(AssertionError, match="Guard failed: n >= 0"):
        ep.module()(-5, torch.ones(3))


# ------------------------------------------------------------------ property: int programs
_COMPARISONS = (">", ">=", "<", "<=", "==", "!=")
_ARITHMETIC = ("+", "-", "*", "//", "%")


@st.composite
def _int_program(draw) -> str:
    """forward(n, y) mixing branches on n, arithmetic of n, min/max/abs of n and n as a size."""
    lines = []
    for i in range(draw(st.integers(1, 4))):
        c = draw(st.integers(-4, 6))
        kind = draw(st.sampled_from(("branch", "arith", "minmax", "size")))
        if kind == "branch":
            op = draw(st.sampled_from(_COMPARISONS))
            lines += [f"if n {op} {c}:", f"    y = y + {i + 1}", "else:", f"    y = y - {i + 1}"]
        elif kind == "arith":
            op = draw(st.sampled_from(_ARITHMETIC))
            if op in ("//", "%") and c == 0:
                c = 3
            lines.append(f"y = y * (n {op} {c})")
        elif kind == "minmax":
            fn = draw(st.sampled_from(("min", "max")))
            lines.append(f"y = y + {fn}(n, {c}) + abs(n)")
        else:
            lines.append("y = y + torch.ones(max(n, 0) + 1).sum()")
    body = "\n".join("        " + line for line in lines)
    return f"class IntProgram(torch.nn.Module):\n    def forward(self, n, y):\n{body}\n        return y\n"


@given(source=_int_program(), example=st.integers(-5, 9))
def test_programs_of_a_dynamic_int_run_like_eager_or_reject_the_input(source, example):
    """At every int the exported program accepts it computes eager's result; at the example
    it accepts. A refusal at export must be a specialization of the declared-dynamic int."""
    namespace = {"torch": torch}
    exec(compile(source, "<int program>", "exec"), namespace)
    mod = namespace["IntProgram"]()
    y = torch.arange(3.0)
    try:
        ep = strict_tracer.export(mod, (example, y), dynamic_shapes=(Dim.DYNAMIC, None))
    except ConstraintViolationError as exc:
        # A specialization, or a guard ruling out some ints (`n != 0`): the deliberate rule
        # for every declared-dynamic size (README "Dynamic shapes").
        assert any(text in str(exc) for text in ("specialized it to be a constant", "conflicts",
                                                 "satisfy the generated guard")), source
        return
    torch.testing.assert_close(ep.module()(example, y), mod(example, y))
    for n in range(-7, 12):
        try:
            got = ep.module()(n, y)
        except AssertionError as exc:
            assert "Guard failed" in str(exc), source
            continue
        torch.testing.assert_close(got, mod(n, y), msg=lambda m: f"n={n}\n{source}\n{m}")
