"""Exporting an exported program's `.module()` again (fx_wrapped_call.py, source_fns.py), and
inputs torch.export accepts in other shapes (a namedtuple of positional inputs)."""
import collections
import copy

import pytest
import torch
from torch.export import Dim

import strict_tracer


class Counter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)
        self.register_buffer("calls", torch.zeros(1))

    def forward(self, x):
        self.calls.add_(1)
        return self.lin(x).relu() + self.calls


def test_reexport_matches_eager_and_keeps_buffer_updates():
    x = torch.randn(3, 4)
    first = strict_tracer.export(Counter(), (x,))
    again = strict_tracer.export(first.module(), (x,))
    eager = Counter()
    eager.load_state_dict(first.module().state_dict())
    torch.testing.assert_close(again.module()(x), eager(x))


def test_reexport_with_failing_guard_raises_the_guard_error():
    """The unlifted module checks its inputs; tracing it with an input its guards reject
    raises that AssertionError (not a refusal of the exception decoration)."""
    mod = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Tanh())
    first = strict_tracer.export(mod, (torch.randn(3, 4),),
                                 dynamic_shapes=({0: Dim("b", min=3)},))
    with pytest.raises(AssertionError, match=r"Guard failed: input.size\(\)\[0\] >= 3"):
        strict_tracer.export(first.module(), (torch.randn(2, 4),))
    again = strict_tracer.export(first.module(), (torch.randn(5, 4),),
                                 dynamic_shapes=({0: Dim("b", min=3)},))
    x = torch.randn(7, 4)
    torch.testing.assert_close(again.module()(x), mod(x))


def test_reexport_keeps_custom_metadata_on_the_same_nodes():
    x = torch.randn(3, 4)
    ep = strict_tracer.export(Counter(), (x,))
    gm = copy.deepcopy(ep.graph_module)
    gm.meta["custom"] = {"f": "bar"}
    for node in gm.graph.nodes:
        if node.target == torch.ops.aten.linear.default:
            node.meta["custom"] = {"tag": "linear"}
    tagged = ep._update(gm, ep.graph_signature)
    again = strict_tracer.export(tagged.module(), (x,))
    assert again.graph_module.meta["custom"] == {"f": "bar"}
    tagged_nodes = [n for n in again.graph.nodes if "custom" in n.meta]
    assert [n.target for n in tagged_nodes] == [torch.ops.aten.linear.default]
    assert tagged_nodes[0].meta["custom"] == {"tag": "linear"}
    # The module stack of the original program survives too (unflatten still works).
    assert any(v[0] == "lin" for v in tagged_nodes[0].meta["nn_module_stack"].values())


def test_namedtuple_of_positional_inputs():
    Point = collections.namedtuple("Point", ["x", "y"])

    class Add(torch.nn.Module):
        def forward(self, x, y):
            return x * y + 1

    inputs = Point(torch.randn(3), torch.randn(3))
    ours = strict_tracer.export(Add(), inputs)
    theirs = torch.export.export(Add(), inputs, strict=True)
    assert [s.arg.name for s in ours.graph_signature.input_specs] == \
        [s.arg.name for s in theirs.graph_signature.input_specs]
    torch.testing.assert_close(ours.module()(*inputs), Add()(*inputs))
