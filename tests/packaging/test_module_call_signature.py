"""preserve_module_call_signature, unflatten and module swapping (module_calls.py).

Each export is compared with torch.export.export(..., strict=True) on the same module (same
module call graph) and with eager (unflattened and swapped modules compute what eager does).
"""
import pytest
import torch
from torch.export import unflatten

import strict_tracer
from strict_tracer.errors import UserInputError


class Leaf(torch.nn.Module):
    def forward(self, x):
        return x * 2 + 1


class Pair(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.leaf = Leaf()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x, y, *, scale=3):
        return self.leaf(self.lin(x)) + y * scale, x - y


class Root(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pair = Pair()
        self.register_buffer("buf", torch.ones(4))

    def forward(self, x):
        a, b = self.pair(x, x + self.buf, scale=2)
        c = self.pair.leaf(a)          # the leaf again, called from the root this time
        d, _ = self.pair(c, b, scale=1)    # a second call of a preserved module: "pair@1"
        return d + 1


def _signatures(ep):
    return {e.fqn: None if e.signature is None else
            ([str(a) for a in e.signature.inputs], [str(a) for a in e.signature.outputs],
             str(e.signature.in_spec), str(e.signature.out_spec))
            for e in ep.module_call_graph}


PATHS = ("pair", "pair.leaf")


def test_signatures_match_torch_export():
    torch.manual_seed(0)
    mod, x = Root(), torch.randn(2, 4)
    ours = strict_tracer.export(mod, (x,), preserve_module_call_signature=PATHS)
    theirs = torch.export.export(mod, (x,), strict=True, preserve_module_call_signature=PATHS)
    assert [e.fqn for e in ours.module_call_graph] == [e.fqn for e in theirs.module_call_graph]
    assert _signatures(ours) == _signatures(theirs)
    assert "pair@1" in _signatures(ours) and "pair.leaf@1" in _signatures(ours)


def test_boundary_nodes_leave_no_trace_in_the_graph():
    mod, x = Root(), torch.randn(2, 4)
    ep = strict_tracer.export(mod, (x,), preserve_module_call_signature=PATHS)
    targets = {str(n.target) for n in ep.graph.nodes}
    assert not any("boundary" in t or "tracepoint" in t for t in targets)
    torch.testing.assert_close(ep.module()(x), mod(x))


def test_unflatten_and_swap_a_preserved_module():
    torch.manual_seed(0)
    mod, x = Root(), torch.randn(3, 4)
    ep = strict_tracer.export(mod, (x,), preserve_module_call_signature=PATHS)
    flat = unflatten(ep)
    torch.testing.assert_close(flat(x), mod(x))

    class Other(torch.nn.Module):      # same calling convention, another computation
        def forward(self, x):
            return x - 5

    flat.pair.leaf = Other()
    mod.pair.leaf = Other()
    torch.testing.assert_close(flat(x), mod(x))


def test_dynamic_shapes_with_preserved_module():
    mod = Root()
    batch = torch.export.Dim("batch")
    ep = strict_tracer.export(mod, (torch.randn(3, 4),), dynamic_shapes={"x": {0: batch}},
                              preserve_module_call_signature=("pair",))
    flat = unflatten(ep)
    x = torch.randn(7, 4)
    torch.testing.assert_close(flat(x), mod(x))


def test_repeated_calls_and_module_stack_call_index():
    """The n-th call of a module is `key@n` in nn_module_stack, so unflatten keeps the calls
    apart (without it two back-to-back calls merge into one)."""
    class Twice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.leaf = Leaf()

        def forward(self, x):
            return self.leaf(self.leaf(x))

    mod, x = Twice(), torch.randn(3)
    ep = strict_tracer.export(mod, (x,))
    keys = [list(n.meta["nn_module_stack"])[-1] for n in ep.graph.nodes
            if n.op == "call_function" and len(n.meta.get("nn_module_stack", {})) == 2]
    assert any(k.endswith("@1") for k in keys) and any("@" not in k for k in keys)
    torch.testing.assert_close(unflatten(ep)(x), mod(x))


def test_shared_submodule_recorded_under_the_name_called():
    class Shared(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.n = Leaf()
            self.p = self.n

        def forward(self, x):
            return self.p(self.n(x) + 1)

    mod, x = Shared(), torch.randn(3)
    ours = strict_tracer.export(mod, (x,))
    theirs = torch.export.export(mod, (x,), strict=True)
    paths = lambda ep: [tuple(v[0] for v in n.meta["nn_module_stack"].values())
                        for n in ep.graph.nodes if n.op == "call_function"]
    assert paths(ours) == paths(theirs)
    torch.testing.assert_close(unflatten(ours)(x), mod(x))


class Branchy(torch.nn.Module):
    def forward(self, x, flag):
        return x * 3 if flag else x - 2


class SharedTwice(torch.nn.Module):
    """One submodule under two names, each name called twice with different branches."""

    def __init__(self):
        super().__init__()
        self.first = Branchy()
        self.second = self.first

    def forward(self, x):
        x = self.first(x + 1, True)
        x = self.first(x * 2, False)
        x = self.second(x + 3, True)
        return self.second(x, False) + 4


@pytest.mark.parametrize("preserve", [(), ("first", "second")])
def test_a_shared_submodule_is_preserved_under_each_name_called(preserve):
    mod, x = SharedTwice(), torch.randn(3)
    ours = strict_tracer.export(mod, (x,), preserve_module_call_signature=preserve)
    theirs = torch.export.export(mod, (x,), strict=True, preserve_module_call_signature=preserve)
    assert [e.fqn for e in ours.module_call_graph] == [e.fqn for e in theirs.module_call_graph]
    assert _signatures(ours) == _signatures(theirs)
    torch.testing.assert_close(unflatten(ours)(x), mod(x))


def test_grad_region_unflattens():
    class NoGrad(torch.nn.Module):
        def forward(self, a, b):
            with torch.no_grad():
                return a + b

    class Outer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = NoGrad()

        def forward(self, a, b):
            return self.inner(a, b) * 2

    mod, args = Outer(), (torch.ones(2, 2), torch.ones(2, 2))
    ep = strict_tracer.export(mod, args)
    assert all("nn_module_stack" in n.meta for n in ep.graph.nodes if n.op == "get_attr")
    torch.testing.assert_close(unflatten(ep)(*args), mod(*args))


@pytest.mark.parametrize("paths", [("nope",), ("pair.nope",), "pair", ("",)])
def test_bad_paths_are_refused(paths):
    with pytest.raises(UserInputError):
        strict_tracer.export(Root(), (torch.randn(2, 4),), preserve_module_call_signature=paths)


def test_prefer_deferred_runtime_asserts_is_accepted_with_strict_false():
    mod, x = Leaf(), torch.randn(3)
    ep = strict_tracer.export(mod, (x,), strict=False,
                              prefer_deferred_runtime_asserts_over_guards=True,
                              preserve_module_call_signature=())
    torch.testing.assert_close(ep.module()(x), mod(x))


def test_a_call_with_another_structure_is_refused():
    class Mixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.pair = Pair()

        def forward(self, x):
            a, _ = self.pair(x, x, scale=2)
            return self.pair(a, x)[0]          # no `scale` keyword: another in_spec

    with pytest.raises(UserInputError, match="different input or output structures"):
        strict_tracer.export(Mixed(), (torch.randn(2, 4),), preserve_module_call_signature=("pair",))


def test_aliased_parameters_keep_every_name_in_the_state_dict():
    class Aliased(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.alpha = torch.nn.Parameter(torch.randn(4))
            self.beta = self.alpha
            shared = torch.nn.LayerNorm(4)
            self.norms = torch.nn.ModuleList([shared, shared])

        def forward(self, x):
            for norm in self.norms:
                x = norm(x)
            return x + self.beta

    mod, x = Aliased(), torch.randn(2, 4)
    ours = strict_tracer.export(mod, (x,))
    theirs = torch.export.export(mod, (x,), strict=True)
    assert list(ours.state_dict) == list(theirs.state_dict) == list(mod.state_dict())
    assert set(unflatten(ours).state_dict()) == set(mod.state_dict())
    torch.testing.assert_close(unflatten(ours)(x), mod(x))


def test_module_created_in_forward_is_not_a_module_stack_entry():
    class Double(torch.nn.Module):
        def forward(self, x):
            return x + x

    class Outer(torch.nn.Module):
        def forward(self, x):
            return Double()(x) * x

    mod, x = Outer(), torch.randn(3)
    ours = strict_tracer.export(mod, (x,))
    theirs = torch.export.export(mod, (x,), strict=True)
    stacks = lambda ep: [list(n.meta["nn_module_stack"].values()) for n in ep.graph.nodes
                         if n.op == "call_function"]
    assert stacks(ours) == stacks(theirs)
    torch.testing.assert_close(unflatten(ours)(x), mod(x))


def test_module_shared_inside_a_sequential_is_named_by_position():
    norm = torch.nn.LayerNorm(4)
    mod = torch.nn.Sequential(norm, torch.nn.ReLU(), norm, torch.nn.ReLU())
    x = torch.randn(4)
    ours = strict_tracer.export(mod, (x,))
    theirs = torch.export.export(mod, (x,), strict=True)
    innermost = lambda ep: [list(n.meta["nn_module_stack"].values())[-1][0]
                            for n in ep.graph.nodes if n.op == "call_function"]
    assert innermost(ours) == innermost(theirs)
    assert "2" in innermost(ours)
    torch.testing.assert_close(unflatten(ours)(x), mod(x))
