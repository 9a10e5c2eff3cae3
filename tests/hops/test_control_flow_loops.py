"""map, while_loop and scan: structure against torch.export strict, results against eager.

Example inputs are made at import time (outside the seeded fixture), so every loop here ends
for any input.
"""
import copy

import pytest
import torch
from torch._export.db.examples import all_examples
from torch._higher_order_ops.map import map as torch_map
from torch._higher_order_ops.scan import scan
from torch._higher_order_ops.while_loop import while_loop

import strict_tracer
from support.helpers import assert_same, readable, run_both, torch_readable


def export_and_check(mod, args, *fresh_args, compare_torch=True):
    ep = strict_tracer.export(mod, copy.deepcopy(args))
    if compare_torch:
        assert readable(ep) == torch_readable(mod, args)
    for inputs in (args, *fresh_args):
        got, want = run_both(mod, ep, inputs)
        assert_same(got, want)
    return ep


# ---------------------------------------------------------------- map
class MapModule(torch.nn.Module):
    def forward(self, xs, y, z):
        def body(x, y, z):
            return x + y + z

        return torch_map(body, xs, y, z)


MAP_MODULE_PRINTED = '''\
class GraphModule(torch.nn.Module):
    def forward(self, xs: "f32[6, 4]", y: "i64[]", z: "i64[]"):
        body_graph_0 = self.body_graph_0
        map_impl = torch.ops.higher_order.map_impl(body_graph_0, [xs], [y, z]);  body_graph_0 = xs = y = z = None
        getitem: "f32[6, 4]" = map_impl[0];  map_impl = None
        return (getitem,)
    class body_graph_0(torch.nn.Module):
        def forward(self, xs: "f32[4]", y: "i64[]", z: "i64[]"):
            add: "f32[4]" = torch.ops.aten.add.Tensor(xs, y);  xs = y = None
            add_1: "f32[4]" = torch.ops.aten.add.Tensor(add, z);  add = z = None
            return (add_1,)
'''


def test_tutorial_map_module_prints_like_the_tutorial():
    inps = (torch.ones(6, 4), torch.tensor(5), torch.tensor(4))
    ep = strict_tracer.export(MapModule(), inps)
    assert readable(ep).startswith(MAP_MODULE_PRINTED)
    torch.testing.assert_close(ep.module()(*inps), torch.full((6, 4), 10.0))


def test_exportdb_dynamic_shape_map():
    case = all_examples()["dynamic_shape_map"]
    export_and_check(case.model, case.example_args, (torch.randn(3, 2), torch.randn(2)))


class MapClosure(torch.nn.Module):
    """An unused extra argument stays; a closed-over tensor is appended to the arguments."""

    def forward(self, xs, y, z):
        q = z + 1

        def body(x, y, z):
            return x * q, x + y

        return torch_map(body, xs, y, z)


class MapPytree(torch.nn.Module):
    def forward(self, xs, y):
        return torch_map(lambda d, k, w: {"s": d["p"] * k + d["q"] * w["w"]},
                         {"p": xs, "q": xs.cos()}, 3, {"w": y})


class MapNoneOutput(torch.nn.Module):
    def forward(self, xs):
        return torch_map(lambda a: (a.sin(), None), xs)


class MapInCond(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(3))

    def forward(self, xs, y):
        def true_fn(a, b):
            return torch_map(lambda r, q: r * q + self.w, a, b)

        return torch.cond(y.sum() > 0, true_fn, lambda a, b: a - b, (xs, y))


@pytest.mark.parametrize("mod,args", [
    (MapClosure(), (torch.randn(4, 3), torch.randn(3), torch.randn(3))),
    (MapNoneOutput(), (torch.randn(4, 3),)),
    (MapInCond(), (torch.randn(4, 3), torch.ones(3))),
], ids=lambda v: type(v).__name__ if isinstance(v, torch.nn.Module) else "")
def test_map_forms_match_torch(mod, args):
    export_and_check(mod, args)


def test_map_pytree_xs_and_constant_args():
    # torch.export cannot trace this one (constant args crash it); check against eager only.
    ep = export_and_check(MapPytree(), (torch.randn(4, 3), torch.randn(3)), compare_torch=False)
    map_node = next(n for n in ep.graph.nodes if n.target is torch.ops.higher_order.map_impl)
    assert [len(map_node.args[1]), len(map_node.args[2])] == [2, 1]


def test_map_in_cond_runs_both_branches():
    export_and_check(MapInCond(), (torch.randn(4, 3), -torch.ones(3)), compare_torch=False)


# ---------------------------------------------------------------- while_loop
class Counter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("step", torch.ones(3))

    def forward(self, it, x, y):
        z = y * 2

        def cond_fn(i, a):
            return i < 5

        def body_fn(i, a):
            return i + 1, a + z + self.step

        return while_loop(cond_fn, body_fn, (it, x))


class NestedCarry(torch.nn.Module):
    def forward(self, x):
        return while_loop(lambda d: d["a"].sum() < 10,
                          lambda d: ({"a": d["a"] + 1, "b": d["b"] * 2},),
                          ({"a": x, "b": x.cos()},))


class CondInWhile(torch.nn.Module):
    def forward(self, x):
        def body(a):
            # Both branches increase the sum, so the loop ends for every input.
            return (torch.cond(a.sum() > 0, lambda b: b + 1, lambda b: b.abs() + 2, (a,)),)

        return while_loop(lambda a: a.sum() < 10, body, (x,))


class ConstantFalse(torch.nn.Module):
    def forward(self, x):
        return while_loop(lambda a: False, lambda a: (a + 1,), (x,))


@pytest.mark.parametrize("mod,args,fresh", [
    (Counter(), (torch.tensor(0), torch.randn(3), torch.randn(3)),
     [(torch.tensor(4), torch.randn(3), torch.randn(3))]),
    (NestedCarry(), (torch.randn(3, 3),), [(torch.full((3, 3), 2.0),)]),
    (CondInWhile(), (torch.randn(3, 3),), [(-torch.ones(3, 3),)]),
    (ConstantFalse(), (torch.randn(3, 3),), []),
], ids=lambda v: type(v).__name__ if isinstance(v, torch.nn.Module) else "")
def test_while_loop_matches_torch(mod, args, fresh):
    export_and_check(mod, args, *fresh)


# ---------------------------------------------------------------- scan
class CumulativeScan(torch.nn.Module):
    def forward(self, init, xs, w):
        def combine(carry, x):
            new = carry + x * w
            return new, new.sin()

        return scan(combine, init, xs)


class ReverseScanDim1(torch.nn.Module):
    def forward(self, init, xs):
        return scan(lambda c, x: (c * x, (c + x).cos()), init, xs, dim=1, reverse=True)


class PytreeScan(torch.nn.Module):
    def forward(self, xs):
        def combine(carry, x):
            total = carry["total"] + x["a"]
            return {"total": total}, [total * 2, x["b"].exp()]

        return scan(combine, {"total": torch.zeros(3)}, {"a": xs, "b": xs.cos()})


@pytest.mark.parametrize("mod,args", [
    (CumulativeScan(), (torch.zeros(3), torch.randn(4, 3), torch.randn(3))),
    (ReverseScanDim1(), (torch.ones(4), torch.randn(4, 5))),
    (PytreeScan(), (torch.randn(5, 3),)),
], ids=lambda v: type(v).__name__ if isinstance(v, torch.nn.Module) else "")
def test_scan_matches_torch(mod, args):
    export_and_check(mod, args)
