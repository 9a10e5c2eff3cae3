"""Custom ops returning tensors and numbers together (`-> (Tensor, SymInt)`): the tensors are
getitems of the op's node; a number the fake implementation computes from input sizes is that
expression (a constant for static sizes, `sym_size` arithmetic for dynamic ones); a number it
makes up (`new_dynamic_size()`) is a new data-dependent symbol computed by its getitem. Each
is usable downstream, and the program matches eager at other sizes."""
from __future__ import annotations

import operator

import torch
from torch.export import Dim

import strict_tracer

torch.library.define("st_results::rows_and_count", "(Tensor x) -> (Tensor, SymInt)")
torch.library.define("st_results::positives", "(Tensor x) -> (Tensor, SymInt, int)")


@torch.library.impl("st_results::rows_and_count", "cpu")
def _rows_and_count(x):
    return x.flip(0), x.shape[0] * 2


@torch.library.register_fake("st_results::rows_and_count")
def _rows_and_count_fake(x):
    return torch.empty_like(x), x.shape[0] * 2


@torch.library.impl("st_results::positives", "cpu")
def _positives(x):
    return x.abs(), int((x > 0).sum()), 7


@torch.library.register_fake("st_results::positives")
def _positives_fake(x):
    return torch.empty_like(x), torch.library.get_ctx().new_dynamic_size(), 7


class UsesCount(torch.nn.Module):
    def forward(self, x):
        rows, n = torch.ops.st_results.rows_and_count(x)
        return rows * n, torch.ones(n + 1), n


class UsesPositives(torch.nn.Module):
    def forward(self, x):
        y, k, seven = torch.ops.st_results.positives(x)
        return y + seven, torch.zeros(k, 2)


def _targets(ep):
    return [n.target for n in ep.graph.nodes if n.op == "call_function"]


def test_a_size_expression_static_and_dynamic():
    x = torch.randn(3, 2)
    static = strict_tracer.export(UsesCount(), (x,))
    torch.testing.assert_close(static.module()(x), UsesCount()(x))
    assert static.module()(x)[2] == 6
    dynamic = strict_tracer.export(UsesCount(), (x,), dynamic_shapes=({0: Dim("n")},))
    assert torch.ops.aten.sym_size.int in _targets(dynamic)
    other = torch.randn(5, 2)
    torch.testing.assert_close(dynamic.module()(other), UsesCount()(other))


def test_a_new_symbol_is_computed_by_its_getitem():
    x = torch.tensor([1.0, -2.0, 3.0, 4.0])
    ep = strict_tracer.export(UsesPositives(), (x,))
    getitems = [n for n in ep.graph.nodes if n.target is operator.getitem]
    assert [n.args[1] for n in getitems] == [0, 1]          # the tensor and the new size
    assert "unbacked_bindings" in getitems[1].meta
    for inputs in (x, torch.tensor([-1.0, -2.0, 5.0, 0.0])):
        torch.testing.assert_close(ep.module()(inputs), UsesPositives()(inputs))
