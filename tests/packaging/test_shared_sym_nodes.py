"""Packaging's shared SymInt arithmetic (strict_tracer/packaging/shared_sym_nodes.py): inside
sharing() a repeated operation on the same nodes returns the node computed the first time,
with the value torch computes without sharing; outside it, and under a proxy mode, every
operation is torch's own."""
import operator

import torch
from torch._dynamo.source import ConstantSource
from torch.fx.experimental.proxy_tensor import make_fx
from torch.fx.experimental.sym_node import SymNode
from torch.fx.experimental.symbolic_shapes import DimDynamic, ShapeEnv
from torch._subclasses.fake_tensor import FakeTensorMode, in_kernel_invocation_manager

import strict_tracer
from strict_tracer.packaging.shared_sym_nodes import SharedSymNode, share, sharing

OPS = (operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod,
       operator.eq, operator.ge, operator.lt, torch.sym_max, torch.sym_min)


def _sizes():
    env = ShapeEnv()
    symbols = []
    for name, hint in (("a", 7), ("b", 12)):
        s = env.create_symbol(hint, ConstantSource(name), dynamic_dim=DimDynamic.DYNAMIC)
        symbols.append(env.create_symintnode(s, hint=hint))
    return env, symbols


def _results(a, b):
    return [op(x, y) for op in OPS for x, y in ((a, b), (b, a), (a, 3), (5, b), (a * 4, b + 1))]


def _describe(values):
    return [(type(v).__name__, str(v.node.expr) if hasattr(v, "node") else v,
             getattr(v.node, "hint", v) if hasattr(v, "node") else v) for v in values]


def test_shared_operations_give_torch_values_and_repeat_as_the_same_node():
    _, (a, b) = _sizes()
    expected = _describe(_results(a, b))
    _, (c, d) = _sizes()
    share(c), share(d)
    assert type(c.node) is SymNode            # outside sharing() share() changes nothing
    with sharing():
        share(c), share(d)
        assert type(c.node) is SharedSymNode
        first = _results(c, d)
        again = _results(c, d)
    assert _describe(first) == _describe(again) == expected
    made = [c, d] + [v for v in first if hasattr(v, "node")]
    assert {type(v.node) for v in made} == {SymNode}      # torch's own type once the block ends
    symbolic = [(x, y) for x, y in zip(first, again) if hasattr(x, "node")]
    assert symbolic and all(x.node is y.node for x, y in symbolic)
    outside = _results(c, d)        # no sharing: torch computes each node anew
    assert _describe(outside) == expected
    assert all(x.node is not y.node for x, y in zip(outside, first) if hasattr(x, "node"))


def test_fake_tensors_made_with_sharing_match_torch():
    meta = torch.device("meta")

    def make(shared: bool):
        env, (s0, s1) = _sizes()
        mode = FakeTensorMode(shape_env=env)
        shapes = ([1, s0, 4096], [s1, s0, 8, 16], [s0 * s1, 3])
        out = []
        with sharing() if shared else in_kernel_invocation_manager(mode):
            if shared:
                share(s0), share(s1)
            for _ in range(2):
                for shape in shapes:
                    with in_kernel_invocation_manager(mode):
                        t = torch.empty(shape, device=meta)
                        u = torch.empty_strided(shape[::-1], t.stride()[::-1], device=meta)
                    out += [(str(x.shape), str(x.stride()), str(x.untyped_storage().nbytes()),
                             x.is_contiguous()) for x in (t, u)]
        return out
    assert make(True) == make(False)


def test_nothing_is_shared_under_a_proxy_mode():
    """make_fx records SymInt arithmetic as graph nodes: each operation must reach it."""
    def f(x):
        with sharing():
            return x.new_zeros(share(x.shape[0]) * 2 + share(x.shape[0]) * 2)
    gm = make_fx(f, tracing_mode="symbolic")(torch.randn(5))
    assert sum(n.target is operator.mul for n in gm.graph.nodes) == 2
    assert gm(torch.randn(3)).shape == (12,)


def test_exported_node_values_hold_torch_symnodes():
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.lin(x).reshape(-1) * x.shape[0]

    dims = {"x": {0: torch.export.Dim("b")}}
    ep = strict_tracer.export(Model(), (torch.randn(3, 4),), dynamic_shapes=dims)
    kinds = {type(s.node) for n in ep.graph.nodes if isinstance(n.meta.get("val"), torch.Tensor)
             for s in n.meta["val"].shape if isinstance(s, torch.SymInt)}
    assert kinds == {SymNode}


def test_shared_decisions_follow_the_shape_env():
    """guard_or_false / guard_or_true / expect_true on a shared SymBool are answered again only
    while the ShapeEnv is unchanged: once an expect_true has deferred `u == 7` (an unbacked
    size), the same node decides anew, as torch does."""
    def decisions(n):
        return (n.guard_or_false("f", 1), n.guard_or_true("f", 1))

    def run(shared: bool):
        env, (a, b) = _sizes()
        u = env.create_unbacked_symint()
        with sharing() if shared else in_kernel_invocation_manager(FakeTensorMode()):
            if shared:
                share(a), share(b), share(u)
            same = u == 7
            assert type(same.node) is (SharedSymNode if shared else SymNode)
            before = [decisions(same.node) for _ in range(2)]
            backed = [(a + b >= 0).node.expect_true("f", 1) for _ in range(2)]
            asserted = (u == 7).node.expect_true("f", 1)     # defers u == 7
            after = decisions(same.node)
        return before, backed, asserted, after

    expected = ([(False, True)] * 2, [True, True], True, (True, True))
    assert run(False) == expected
    assert run(True) == expected
