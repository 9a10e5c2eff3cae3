"""hints_wrapper (torch._higher_order_ops.hints_wrap): the body becomes a
`hints_wrapper_body_graph_i` subgraph of a `higher_order.hints_wrapper` node carrying the hints;
the program computes what eager computes."""
import io

import pytest
import torch
from torch._higher_order_ops.hints_wrap import hints_wrapper
from torch.export import Dim

import strict_tracer
from strict_tracer.errors import GraphBreakError
from support.helpers import CallFn

HOP = torch.ops.higher_order.hints_wrapper


def _hop_nodes(graph_module):
    return [n for n in graph_module.graph.nodes if n.target is HOP]


class Nested(torch.nn.Module):
    def forward(self, x, y):
        def inner(a, b):
            return torch.sigmoid(a) * b

        def outer(a, b):
            return hints_wrapper(inner, (a, b), {}, hints={"level": 2}).cos()
        return hints_wrapper(outer, (x - y, y), {}, hints={"level": 1, "name": "outer"})


def test_nested_bodies_are_nested_subgraphs_with_their_hints():
    x, y = torch.randn(3, 5), torch.randn(5)
    ep = strict_tracer.export(Nested(), (x, y))
    (top,) = _hop_nodes(ep.graph_module)
    assert top.kwargs == {"hints": {"level": 1, "name": "outer"}}
    body = getattr(ep.graph_module, top.args[0].target)
    assert top.args[0].target == "hints_wrapper_body_graph_0"
    assert [n.name for n in body.graph.nodes if n.op == "placeholder"] == ["arg0_1", "arg1_1"]
    (inner,) = _hop_nodes(body)
    assert inner.kwargs == {"hints": {"level": 2}}
    inner_body = getattr(body, inner.args[0].target)
    assert [n.target for n in inner_body.graph.nodes if n.op == "call_function"] == [
        torch.ops.aten.sigmoid.default, torch.ops.aten.mul.Tensor]
    torch.testing.assert_close(ep.module()(x, y), Nested()(x, y))
    torch.testing.assert_close(ep.run_decompositions({}).module()(x, y), Nested()(x, y))


class Closure(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x, y):
        shift = x * 2

        def body(a, scale):
            return self.lin(a) + shift * scale, a.sum(0) * y
        first, second = hints_wrapper(body, (x, 3), {}, hints={"fuse": True})
        return first + 1, second


def test_values_read_from_outside_become_operands_under_dynamic_shapes():
    mod, y = Closure(), torch.randn(4)
    ep = strict_tracer.export(mod, (torch.randn(3, 4), y), dynamic_shapes=({0: Dim("n")}, None))
    (node,) = _hop_nodes(ep.graph_module)
    assert [a.name for a in node.args[1]] == ["x", "p_lin_weight", "p_lin_bias", "mul", "y"]
    for rows in (2, 6):
        x = torch.randn(rows, 4)
        for ours, eager in zip(ep.module()(x, y), mod(x, y)):
            torch.testing.assert_close(ours, eager)
    buffer = io.BytesIO()
    torch.export.save(ep, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    x = torch.randn(5, 4)
    torch.testing.assert_close(loaded.module()(x, y)[0], mod(x, y)[0])


def test_invalid_calls_raise_eagers_error_class():
    x = torch.randn(2)
    for bad in (lambda t: hints_wrapper(torch.sin, (t,), {}, hints={"k": [1]}),
                lambda t: hints_wrapper(torch.sin, (t,), {"out": t}, hints={}),
                lambda t: hints_wrapper(torch.sin, (t, "s"), {}, hints={})):
        with pytest.raises(RuntimeError):
            bad(x)
        with pytest.raises(RuntimeError, match="hints_wrapper"):
            strict_tracer.export(CallFn(bad), (x,))


def test_a_body_that_mutates_its_input_is_refused():
    def body(a):
        a.add_(1)
        return a * 2
    with pytest.raises(GraphBreakError, match="the body of hints_wrapper mutates its input"):
        strict_tracer.export(CallFn(lambda t: hints_wrapper(body, (t,), {}, hints={})), (torch.randn(2),))
