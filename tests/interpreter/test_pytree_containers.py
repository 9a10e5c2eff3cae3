"""Registered pytree containers whose flatten/unflatten run Python or tensor code are
interpreted like user code, on inputs (unflatten around the proxies) and outputs (flatten of
the returned value); plus the attribute and real-tensor paths such containers exercise."""
from __future__ import annotations

import pytest
import torch
import torch.utils._pytree as pytree

import strict_tracer
from support.helpers import assert_same


class Stacked:
    """A container whose unflatten does tensor work (like transformers' caches)."""

    def __init__(self, parts, scale):
        self.parts = list(parts)
        self.scale = scale
        self.stacked = torch.stack(self.parts)


def _flatten_stacked(s):
    return list(s.parts), s.scale


def _unflatten_stacked(values, scale):
    return Stacked(values, scale)


class Pair:
    """A container whose flatten runs Python (a property) to find its children."""

    def __init__(self, a, b):
        self._items = {"a": a, "b": b}

    @property
    def children(self):
        return [self._items["a"], self._items["b"]]


pytree.register_pytree_node(
    Stacked, _flatten_stacked, _unflatten_stacked, serialized_type_name="tests.Stacked",
    flatten_with_keys_fn=lambda s: ([(pytree.SequenceKey(i), p) for i, p in enumerate(s.parts)],
                                    s.scale))
pytree.register_pytree_node(Pair, lambda p: (p.children, None), lambda v, _: Pair(*v),
                            serialized_type_name="tests.Pair")


class UsesStacked(torch.nn.Module):
    def forward(self, s: Stacked):
        return s.stacked.sum(0) * s.scale


class ReturnsPair(torch.nn.Module):
    def forward(self, x):
        return Pair(x + 1, x.cos())


def test_input_unflatten_runs_tensor_code_in_the_graph():
    s = Stacked([torch.randn(3), torch.randn(3)], 2.0)
    ep = strict_tracer.export(UsesStacked(), (s,))
    assert any(n.target is torch.ops.aten.stack.default for n in ep.graph.nodes)
    fresh = Stacked([torch.randn(3), torch.randn(3)], 2.0)
    assert_same(ep.module()(fresh), UsesStacked()(fresh))
    reference = torch.export.export(UsesStacked(), (s,), strict=True)
    assert_same(ep.module()(fresh), reference.module()(fresh))


def test_output_flatten_runs_python_and_rebuilds_the_container():
    x = torch.randn(4)
    ep = strict_tracer.export(ReturnsPair(), (x,))
    out = ep.module()(x)
    assert type(out) is Pair
    assert_same(out.children, ReturnsPair()(x).children)
    assert ep.call_spec.out_spec == torch.export.export(ReturnsPair(), (x,), strict=True).call_spec.out_spec


def test_traced_value_in_a_flatten_context_is_refused():
    class Boxed:
        def __init__(self, t):
            self.t = t

    pytree.register_pytree_node(Boxed, lambda b: ([], b.t), lambda v, t: Boxed(t),
                                serialized_type_name="tests.Boxed")
    try:
        class M(torch.nn.Module):
            def forward(self, x):
                return Boxed(x * 2)

        with pytest.raises(strict_tracer.GraphBreakError, match="Boxed puts a traced value"):
            strict_tracer.export(M(), (torch.randn(2),))
    finally:
        pytree._deregister_pytree_node(Boxed)


def test_property_of_a_dict_subclass_is_interpreted():
    """dict's own __getattribute__ slot is object's generic lookup: a property of a dict
    subclass (transformers' ModelOutput.past_key_values) runs in the interpreter."""
    class Output(dict):
        @property
        def doubled(self):
            return self["x"] * 2

    class M(torch.nn.Module):
        def forward(self, x):
            return Output(x=x + 1).doubled

    x = torch.randn(3)
    assert_same(strict_tracer.export(M(), (x,)).module()(x), M()(x))


def test_real_buffer_reached_through_a_plain_object_is_not_folded():
    """A buffer held by a plain object and written in place by the graph: operators on it
    (indexing, arithmetic) are recorded on its proxy, not run on its stale real value."""
    class Holder:
        pass

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.holder = Holder()
            self.holder.t = torch.zeros(2, 3)
            self.register_buffer("t", self.holder.t, persistent=False)

        def forward(self, x):
            t = self.holder.t
            t.add_(x)
            return t[:, None] * 2, -t, len(t)

    x = torch.ones(2, 3)
    ep = strict_tracer.export(M(), (x,))
    assert not [name for name in ep.constants if "lifted" in name]
    assert_same(ep.module()(x), M()(x))
