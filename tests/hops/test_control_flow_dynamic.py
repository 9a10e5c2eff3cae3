"""Control-flow operators with dynamic shapes: symbolic predicates, sizes read inside bodies,
symbols passed into bodies, against torch.export strict (up to symbol and sym_size names)
and eager on inputs of other sizes."""
import copy
import re

import pytest
import torch
from torch._export.db.examples import all_examples
from torch._higher_order_ops.map import map as torch_map
from torch._higher_order_ops.scan import scan
from torch._higher_order_ops.while_loop import while_loop
from torch.export import Dim

import strict_tracer
from support.helpers import assert_same, readable, run_both, torch_readable

D = Dim("d", min=2, max=64)


def normalized(text: str) -> str:
    """Symbols renamed in order of appearance; sym_size nodes all called sym_size."""
    text = re.sub(r"\bsym_size(_int)?(_\d+)?\b", "sym_size", text)
    names: dict[str, str] = {}

    def rename(match):
        kind = match.group(1)
        key = match.group(0)
        if key not in names:
            names[key] = f"{kind}{sum(1 for k in names if k[0] == kind)}"
        return names[key]

    return re.sub(r"\b([su])\d+\b", rename, text)


def export_and_check(mod, args, dynamic_shapes, *fresh_args, compare_torch=True):
    ep = strict_tracer.export(mod, copy.deepcopy(args), dynamic_shapes=dynamic_shapes)
    if compare_torch:
        assert normalized(readable(ep)) == normalized(
            torch_readable(mod, args, dynamic_shapes=dynamic_shapes))
    for inputs in (args, *fresh_args):
        got, want = run_both(mod, ep, inputs)
        assert_same(got, want)
    return ep


def test_exportdb_cond_operands_with_its_dynamic_shapes():
    case = all_examples()["cond_operands"]
    ep = export_and_check(case.model, case.example_args, case.dynamic_shapes,
                          (torch.randn(2, 2), torch.randn(2)), (torch.randn(7, 2), torch.randn(2)))
    cond = next(n for n in ep.graph.nodes if n.target is torch.ops.higher_order.cond)
    assert str(cond.args[0].meta["val"]).endswith("> 2")


class SizesInsideBranches(torch.nn.Module):
    def forward(self, x, y):
        def true_fn(a, b):
            return a.view(a.shape[0], -1).sum(1) + b.shape[0]

        def false_fn(a, b):
            return torch.zeros(a.shape[0]) + b.sum()

        return torch.cond(x.shape[0] > 4, true_fn, false_fn, (x, y))


class TensorPredicate(torch.nn.Module):
    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda a: a.sin(), lambda a: a.cos(), (x,))


class NestedSymbolicPredicate(torch.nn.Module):
    def forward(self, x):
        def true_fn(a):
            return torch.cond(a.shape[0] > 3, lambda b: b.sin(), lambda b: b.cos(), (a,))

        return torch.cond(x.sum() > 0, true_fn, lambda a: a * 2, (x,))


class MapDynamic(torch.nn.Module):
    def forward(self, xs, y):
        return torch_map(lambda a, b: a * b.sum() + a.shape[0], xs, y)


class MapOuterSize(torch.nn.Module):
    """A size from outside the body reaches it as an extra SymInt input."""

    def forward(self, xs, z):
        n = z.shape[0]
        return torch_map(lambda a: a * n, xs)


class WhileDynamic(torch.nn.Module):
    def forward(self, x):
        return while_loop(lambda a: a.sum() < 10, lambda a: (a + 1,), (x,))


class ScanDynamic(torch.nn.Module):
    def forward(self, init, xs):
        return scan(lambda c, x: (c + x, c * 2), init, xs)


E = Dim("e", min=2, max=64)


@pytest.mark.parametrize("mod,args,dynamic_shapes,fresh", [
    (SizesInsideBranches(), (torch.randn(6, 2), torch.randn(3)), {"x": {0: D}, "y": None},
     [(torch.randn(3, 2), torch.randn(3))]),
    (TensorPredicate(), (torch.randn(6, 2),), {"x": {0: D}}, [(-torch.ones(9, 2),)]),
    (NestedSymbolicPredicate(), (torch.randn(5),), {"x": {0: D}},
     [(torch.ones(2),), (torch.ones(7),), (-torch.ones(7),)]),
    (MapDynamic(), (torch.randn(6, 3), torch.randn(3)), {"xs": {0: D, 1: E}, "y": {0: E}},
     [(torch.randn(7, 5), torch.randn(5))]),
    (MapOuterSize(), (torch.randn(4, 3), torch.randn(5)), {"xs": None, "z": {0: D}},
     [(torch.randn(4, 3), torch.randn(9))]),
    (WhileDynamic(), (torch.randn(6, 3),), {"x": {0: D}}, [(torch.randn(2, 3),)]),
    (ScanDynamic(), (torch.randn(3), torch.randn(6, 3)), {"init": None, "xs": {0: D}},
     [(torch.randn(3), torch.randn(4, 3))]),
], ids=lambda v: type(v).__name__ if isinstance(v, torch.nn.Module) else "")
def test_dynamic_shapes_match_torch(mod, args, dynamic_shapes, fresh):
    export_and_check(mod, args, dynamic_shapes, *fresh)


def test_data_read_inside_a_branch_and_outside():
    class M(torch.nn.Module):
        def forward(self, x, y):
            n = y.int().item()
            return torch.cond(x.sum() > 0, lambda a: a * a.sum().int().item(), lambda a: a - n, (x,))

    ep = export_and_check(M(), (torch.randn(3), torch.tensor(3.0)), None,
                          (-torch.ones(3), torch.tensor(2.0)), (torch.ones(3), torch.tensor(2.0)),
                          compare_torch=False)
    cond = next(n for n in ep.graph.nodes if n.target is torch.ops.higher_order.cond)
    assert [n.name for n in cond.args[3]] == ["x", "item"]      # as torch.export orders them


def test_branch_outputs_with_different_symbolic_sizes_are_refused():
    class M(torch.nn.Module):
        def forward(self, x):
            return torch.cond(x.sum() > 0, lambda a: a[1:].sin(), lambda a: a.cos(), (x,))

    with pytest.raises(strict_tracer.GraphBreakError, match="data-dependent sizes"):
        strict_tracer.export(M(), (torch.randn(5),), dynamic_shapes={"x": {0: D}})


def test_data_dependent_sizes_leaving_a_body_are_refused():
    class M(torch.nn.Module):
        def forward(self, xs):
            return torch_map(lambda a: a.nonzero(), xs)

    with pytest.raises(strict_tracer.GraphBreakError, match="depends on data read inside it"):
        strict_tracer.export(M(), (torch.randn(4, 3),))


def test_branches_returning_data_dependent_sizes_are_refused_without_guards():
    class M(torch.nn.Module):
        def forward(self, x):
            return torch.cond(x.sum() > 0, lambda a: a.nonzero(), lambda a: (a > 1).nonzero(), (x,))

    with pytest.raises(strict_tracer.GraphBreakError, match=r"shape \(u\d+, 1\) vs \(u\d+, 1\)"):
        strict_tracer.export(M(), (torch.randn(3),))
