"""GraphBuilder's node plumbing (trace/graph.py): call_node builds the node FX's
call_function builds, and prune drops what eliminate_dead_code drops."""
import operator

import torch
import torch.fx

from strict_tracer.trace.graph import GraphBuilder, call_node

aten = torch.ops.aten


def _calls(graph: torch.fx.Graph, make) -> list[torch.fx.Node]:
    """The same calls on `graph`, each made by `make(graph, target, args, kwargs, name)`."""
    x, w = graph.placeholder("x"), graph.placeholder("w")
    a = make(graph, aten.linear.default, (x, w), {}, "linear")
    b = make(graph, aten.cat.default, ([a, x, a], 1), {}, "cat")
    c = make(graph, aten.view.default, (b, [2, -1]), {}, "view")
    d = make(graph, aten.add.Tensor, (c, 1), {"alpha": 2}, "add")
    e = make(graph, aten.linear.default, (d, w), {}, "linear")      # a second "linear"
    f = make(graph, aten.split.Tensor, (e, 2), {}, "split")
    g = make(graph, operator.getitem, (f, 0), {}, "getitem")
    h = make(graph, aten.where.self, (g,), {"other": {"nested": (d, [x])}}, "where")
    i = make(graph, aten.zeros.default, (), {}, "zeros")               # no arguments at all
    graph.output((h, i))
    return list(graph.nodes)


def _fx(graph, target, args, kwargs, name):
    return graph.call_function(target, args, kwargs, name=name)


def test_call_node_makes_the_node_call_function_makes():
    ours, theirs = torch.fx.Graph(), torch.fx.Graph()
    made, expected = _calls(ours, call_node), _calls(theirs, _fx)
    position = {n: i for i, n in enumerate(made)} | {n: i for i, n in enumerate(expected)}

    def shape(value):       # nodes as their positions, containers with their own types
        if isinstance(value, torch.fx.Node):
            return ("node", position[value])
        if isinstance(value, (list, tuple)):
            return (type(value), tuple(shape(v) for v in value))
        if isinstance(value, dict):
            return (type(value), tuple((k, shape(v)) for k, v in value.items()))
        return value

    for a, b in zip(made, expected):
        assert (a.name, a.op, a.target) == (b.name, b.op, b.target)
        assert shape(a.args) == shape(b.args) and shape(a.kwargs) == shape(b.kwargs)
        assert [position[u] for u in a.users] == [position[u] for u in b.users]
        assert [position[n] for n in a.all_input_nodes] == [position[n] for n in b.all_input_nodes]
    assert ours.python_code("self").src == theirs.python_code("self").src
    ours.lint()


def test_call_node_leaves_a_graph_class_of_its_own_to_its_create_node():
    seen = []

    class Recording(torch.fx.Graph):
        def create_node(self, op, target, args=None, kwargs=None, name=None, type_expr=None):
            seen.append((op, target, args, kwargs))
            return super().create_node(op, target, args, kwargs, name, type_expr)

    graph = Recording()
    x = graph.placeholder("x")
    node = call_node(graph, aten.add.Tensor, (x, 1), {"alpha": 2}, "add")
    assert seen[-1] == ("call_function", aten.add.Tensor, (x, 1), {"alpha": 2})
    assert node.args == (x, 1) and node.kwargs == {"alpha": 2}


def test_prune_drops_what_eliminate_dead_code_drops():
    def build() -> GraphBuilder:
        builder = GraphBuilder()
        x = builder.user_placeholder("x", None)
        unused = builder.call(aten.relu.default, (x,), {})
        builder.call(aten.neg.default, (unused,), {})                  # dead chain
        builder.call(aten._assert_scalar.default, (True, "kept"), {})  # impure, no users
        used = builder.call(aten.sin.default, (x,), {})
        builder.output([used])
        return builder

    pruned, reference = build(), build()
    pruned.prune()
    reference.graph.eliminate_dead_code()
    assert [(n.op, n.target) for n in pruned.graph.nodes] == \
        [(n.op, n.target) for n in reference.graph.nodes]
    assert [n.target for n in pruned.graph.nodes if n.op == "call_function"] == \
        [aten._assert_scalar.default, aten.sin.default]
