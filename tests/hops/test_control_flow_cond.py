"""torch.cond: structure against torch.export strict, results against eager on both branches."""
import copy
import io
import warnings

import pytest
import torch
from functorch.experimental.control_flow import cond as functorch_cond
from torch._export.db.examples import all_examples
from torch._higher_order_ops.map import map as torch_map

import strict_tracer
from support.helpers import assert_same, readable, run_and_compare_state, run_both, torch_readable

EXAMPLES = all_examples()


def export_and_check(mod, args, *fresh_args, compare_torch=True):
    """Export, compare the printed program with torch.export's, and eager results on the
    example and on `fresh_args` (inputs that take the other branches)."""
    ep = strict_tracer.export(mod, copy.deepcopy(args))
    if compare_torch:
        assert readable(ep) == torch_readable(mod, args)
    for inputs in (args, *fresh_args):
        got, want = run_both(mod, ep, inputs)
        assert_same(got, want)
    return ep


# ---------------------------------------------------------------- the tutorial's example
class Bad1Fixed(torch.nn.Module):
    def forward(self, x):
        def true_fn(x):
            return torch.sin(x)

        def false_fn(x):
            return torch.cos(x)

        return torch.cond(x.sum() > 0, true_fn, false_fn, [x])


BAD1FIXED_PRINTED = '''\
class GraphModule(torch.nn.Module):
    def forward(self, x: "f32[3, 3]"):
        sum_1: "f32[]" = torch.ops.aten.sum.default(x)
        gt: "b8[]" = torch.ops.aten.gt.Scalar(sum_1, 0);  sum_1 = None
        true_graph_0 = self.true_graph_0
        false_graph_0 = self.false_graph_0
        cond = torch.ops.higher_order.cond(gt, true_graph_0, false_graph_0, (x,));  gt = true_graph_0 = false_graph_0 = x = None
        getitem: "f32[3, 3]" = cond[0];  cond = None
        return (getitem,)
    class true_graph_0(torch.nn.Module):
        def forward(self, x: "f32[3, 3]"):
            sin: "f32[3, 3]" = torch.ops.aten.sin.default(x);  x = None
            return (sin,)
    class false_graph_0(torch.nn.Module):
        def forward(self, x: "f32[3, 3]"):
            cos: "f32[3, 3]" = torch.ops.aten.cos.default(x);  x = None
            return (cos,)
'''


def test_tutorial_bad1fixed_prints_like_the_tutorial_and_runs_both_branches():
    ep = strict_tracer.export(Bad1Fixed(), (torch.randn(3, 3),))
    assert readable(ep).startswith(BAD1FIXED_PRINTED)
    assert [s.arg.name for s in ep.graph_signature.output_specs] == ["getitem"]
    torch.testing.assert_close(ep.module()(torch.ones(3, 3)), torch.full((3, 3), 1.0).sin())
    torch.testing.assert_close(ep.module()(-torch.ones(3, 3)), torch.full((3, 3), -1.0).cos())


# ---------------------------------------------------------------- ExportDB
@pytest.mark.parametrize("name", ["cond_branch_class_method", "cond_branch_nested_function",
                                  "cond_closed_over_variable", "cond_predicate"])
def test_exportdb_cond_examples_match_torch_structure(name):
    case = EXAMPLES[name]
    export_and_check(case.model, case.example_args)


def test_exportdb_cond_closed_over_variable_runs_both_branches():
    case = EXAMPLES["cond_closed_over_variable"]
    x = torch.randn(3, 2)
    export_and_check(case.model, (torch.tensor(True), x), (torch.tensor(False), x),
                     compare_torch=False)


# ---------------------------------------------------------------- closures, state, nesting
class ReadsState(torch.nn.Module):
    """Branches read a closed-over tensor, a submodule's parameters, a buffer and self state."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 3)
        self.register_buffer("buf", torch.ones(3))
        self.scale = 2.0

    def forward(self, x, y):
        z = y * 3

        def true_fn(a):
            return self.lin(a) + z + self.buf

        def false_fn(a):
            return a * self.scale - self.buf

        return torch.cond(x.sum() > 0, true_fn, false_fn, (x,))


def test_closures_parameters_and_buffers_become_operands_in_torch_order():
    ep = export_and_check(ReadsState(), (torch.ones(3), torch.randn(3)), (-torch.ones(3), torch.randn(3)))
    cond_node = next(n for n in ep.graph.nodes if n.target is torch.ops.higher_order.cond)
    assert [n.name for n in cond_node.args[3]] == ["b_buf", "x", "p_lin_bias", "p_lin_weight", "mul"]


class NestedCond(torch.nn.Module):
    def forward(self, x, y):
        def inner_true(a, b):
            return a + b, a - b

        def inner_false(a, b):
            return a * b, a / b

        def true_fn(a, b):
            return torch.cond(b.sum() > 1, inner_true, inner_false, (a, b))

        def false_fn(a, b):
            return (a.cos(), b.sin())

        return torch.cond(x.sum() > 0, true_fn, false_fn, (x, y))


def test_cond_inside_cond_with_tuple_outputs():
    ep = export_and_check(NestedCond(), (torch.ones(3), torch.ones(3)),
                          (torch.ones(3), -torch.ones(3)), (-torch.ones(3), torch.ones(3)))
    true_graph = ep.graph_module.true_graph_0
    assert hasattr(true_graph, "true_graph_0") and hasattr(true_graph, "false_graph_0")


class OuterValueInNestedBranch(torch.nn.Module):
    """The inner branch reads a tensor of the top graph: it is lifted through both levels."""

    def forward(self, x, y):
        w = y.exp()

        def true_fn(a):
            return torch.cond(a.sum() > 1, lambda b: b + w, lambda b: b - w, (a,))

        return torch.cond(x.sum() > 0, true_fn, lambda a: a * 2, (x,))


def test_outer_tensor_read_two_levels_down():
    export_and_check(OuterValueInNestedBranch(), (torch.ones(3), torch.randn(3)),
                     (torch.full((3,), 0.1), torch.randn(3)), (-torch.ones(3), torch.randn(3)))


class CondInMap(torch.nn.Module):
    def forward(self, xs, y):
        def body(x, y):
            return torch.cond(x.sum() > 0, lambda a, b: a + b, lambda a, b: a - b, (x, y))

        return torch_map(body, xs, y)


def test_cond_inside_map():
    xs = torch.tensor([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0], [0.5, -4.0, 1.0]])
    export_and_check(CondInMap(), (xs, torch.randn(3)))


class TwoConds(torch.nn.Module):
    def forward(self, x):
        a = torch.cond(x.sum() > 0, lambda b: b - 1, lambda b: b + 2, (x,))
        return torch.cond(a.sum() > 0, lambda b: b.sin(), lambda b: b.cos(), (a,))


def test_two_conds_are_numbered():
    ep = export_and_check(TwoConds(), (torch.ones(3, 3),), (-torch.ones(3, 3),),
                          (torch.full((3, 3), 0.5),))
    assert {"true_graph_0", "false_graph_0", "true_graph_1", "false_graph_1"} <= \
        {name for name, _ in ep.graph_module.named_children()}


# ---------------------------------------------------------------- operands and outputs
class DictOutputsUnusedOperand(torch.nn.Module):
    def forward(self, x, y):
        return torch.cond(x.sum() > 0, lambda a, b: {"o": a.sin()}, lambda a, b: {"o": a.cos()}, (x, y))


class NestedOperands(torch.nn.Module):
    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda d: d["a"].sin() + d["b"][0], lambda d: d["a"].cos(),
                          ({"a": x, "b": [x * 2]},))


class IntOutput(torch.nn.Module):
    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda a: (a.sin(), 1), lambda a: (a.cos(), 1), (x,))


class NoOperands(torch.nn.Module):
    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda: torch.ones(3), lambda: torch.zeros(3))


class ClosureOnly(torch.nn.Module):
    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda: x.sin(), lambda: x.cos())


class Keywords(torch.nn.Module):
    def forward(self, x):
        return torch.cond(pred=x.sum() > 0, true_fn=lambda a: a.sin(), false_fn=lambda a: a.cos(),
                          operands=(x,))


class SameValueTwice(torch.nn.Module):
    def forward(self, x):
        y = x + 1
        return torch.cond(x.sum() > 0, lambda a: a + y, lambda a: a - y + x, (y,))


class FloatPredicate(torch.nn.Module):
    def forward(self, x):
        return torch.cond(x.sum(), lambda a: a.sin(), lambda a: a.cos(), (x,))


class IntermediateInPlace(torch.nn.Module):
    def forward(self, x):
        def true_fn(a):
            b = a * 2
            b.add_(1)
            return b

        return torch.cond(x.sum() > 0, true_fn, lambda a: a.cos(), (x,))


class FunctorchSpelling(torch.nn.Module):
    def forward(self, x):
        return functorch_cond(x.sum() > 0, lambda a: a.sin(), lambda a: a.cos(), [x])


class HigherOrderOpDirectly(torch.nn.Module):
    def forward(self, x):
        return torch.ops.higher_order.cond(x.sum() > 0, lambda a: a.sin(), lambda a: a.cos(), (x,))


@pytest.mark.parametrize("mod", [DictOutputsUnusedOperand(), NestedOperands(), IntOutput(),
                                 NoOperands(), ClosureOnly(), Keywords(), SameValueTwice(),
                                 FloatPredicate(), IntermediateInPlace(), FunctorchSpelling(),
                                 HigherOrderOpDirectly()], ids=lambda m: type(m).__name__)
def test_cond_forms_match_torch(mod):
    x = torch.ones(3)
    args = (x, torch.randn(3)) if isinstance(mod, DictOutputsUnusedOperand) else (x,)
    other = (-x, *args[1:])
    export_and_check(mod, args, other)


def test_python_constant_predicate_inlines_the_taken_branch_with_torchs_warning():
    case = EXAMPLES["cond_operands"]       # pred = x.shape[0] > 2, a Python bool here
    with pytest.warns(UserWarning, match="Pred is a Python constant"):
        ep = strict_tracer.export(case.model, case.example_args)
    assert [str(n.target) for n in ep.graph.nodes if n.op == "call_function"] == ["aten.add.Tensor"]
    got, want = run_both(case.model, ep, case.example_args)
    assert_same(got, want)


def test_constant_tensor_created_in_a_branch():
    class M(torch.nn.Module):
        def forward(self, x):
            return torch.cond(x.sum() > 0, lambda a: a + torch.tensor([1.0, 2.0, 3.0]),
                              lambda a: a.cos(), (x,))

    export_and_check(M(), (torch.ones(3),), (-torch.ones(3),), compare_torch=False)


# ---------------------------------------------------------------- the program is real
def test_save_load_and_decompositions_keep_cond():
    mod = ReadsState()
    args = (torch.ones(3), torch.randn(3))
    ep = strict_tracer.export(mod, args)
    buffer = io.BytesIO()
    torch.export.save(ep, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    decomposed = ep.run_decompositions()
    assert any(n.target is torch.ops.higher_order.cond for n in decomposed.graph.nodes)
    for inputs in (args, (-torch.ones(3), torch.randn(3))):
        want = mod(*inputs)
        assert_same(loaded.module()(*inputs), want)
        assert_same(decomposed.module()(*inputs), want)


def test_subgraph_nodes_carry_vals():
    ep = strict_tracer.export(NestedCond(), (torch.ones(3), torch.ones(3)))
    for module in ep.graph_module.modules():
        for node in module.graph.nodes:
            if node.op in ("placeholder", "call_function"):
                assert "val" in node.meta, (module, node)


def test_export_leaves_the_model_untouched():
    mod = ReadsState()
    before = {k: v for k, v in vars(mod).items()}
    state = {k: v.clone() for k, v in mod.state_dict().items()}
    with warnings.catch_warnings():
        strict_tracer.export(mod, (torch.ones(3), torch.randn(3)))
    assert vars(mod).keys() == before.keys() and all(vars(mod)[k] is before[k] for k in before)
    for k, v in mod.state_dict().items():
        torch.testing.assert_close(v, state[k])


class NoGradRegionAndCond(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 3)

    def forward(self, x):
        y = self.lin(x)
        with torch.no_grad():
            z = y * 2 + x
        return torch.cond(z.sum() > 0, lambda a: a.sin(), lambda a: a.cos(), (z,)) + y


def test_grad_region_and_cond_bodies_are_named_and_saved():
    mod = NoGradRegionAndCond()
    ep = strict_tracer.export(mod, (torch.ones(3),))
    region = next(m for name, m in ep.graph_module.named_children() if name.startswith("submod"))
    assert [n.name for n in region.graph.nodes if n.op == "placeholder"] == ["linear", "x"]
    buffer = io.BytesIO()
    torch.export.save(ep, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    for x in (torch.ones(3), -torch.ones(3) * 5):
        assert_same(loaded.module()(x), mod(x))


class CondIntoTrainingNorm(torch.nn.Module):
    """A cond output fed to ops that write: train-mode BatchNorm (its running stats) and an
    in-place add on the output itself."""

    def __init__(self):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(6)

    def forward(self, x):
        y = torch.cond(x.sum() > 0, lambda t: t + 1, lambda t: t - 1, (x,))
        y.add_(2)
        return self.norm(y)


def test_a_cond_output_written_and_normalized_in_training_matches_eager():
    for x in (torch.randn(4, 6), -torch.ones(4, 6)):
        ep = strict_tracer.export(CondIntoTrainingNorm(), (x,),
                                  dynamic_shapes=({0: torch.export.Dim.AUTO},))
        others = (torch.randn(7, 6).abs(), -torch.randn(3, 6).abs())
        run_and_compare_state(CondIntoTrainingNorm(), ep, (x,), calls=[((t,), {}) for t in others])
