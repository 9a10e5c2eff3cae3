"""Custom operators: their own node in the graph; symbolic output shapes from the fake
implementation, interpreted by strict_tracer; compared with torch.export strict and eager."""
from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import strict_tracer
from support.export_compare import assert_captures_like_torch_export
from support.helpers import assert_same, readable, run_both

calls: list[str] = []


@torch.library.custom_op("st_test::custom_op", mutates_args={})
def custom_op(x: torch.Tensor) -> torch.Tensor:
    calls.append("custom_op")
    return torch.relu(x)


@custom_op.register_fake
def _custom_op_fake(x):
    return torch.empty_like(x)


@torch.library.custom_op("st_test::pad_rows", mutates_args={})
def pad_rows(x: torch.Tensor, n: int) -> torch.Tensor:
    return torch.cat([x, x.new_zeros(n, x.shape[1])])


@pad_rows.register_fake
def _pad_rows_fake(x, n):
    return x.new_empty(x.shape[0] + n, x.shape[1])


@torch.library.custom_op("st_test::halve_if_long", mutates_args={})
def halve_if_long(x: torch.Tensor) -> torch.Tensor:
    return x[: x.shape[0] // 2].clone() if x.shape[0] > 4 else x.clone()


@halve_if_long.register_fake
def _halve_fake(x):
    if x.shape[0] > 4:            # a size comparison: a guard, as under torch.export
        return x.new_empty(x.shape[0] // 2, *x.shape[1:])
    return torch.empty_like(x)


@torch.library.custom_op("st_test::nonzero_rows", mutates_args={})
def nonzero_rows(x: torch.Tensor) -> torch.Tensor:
    return x[(x != 0).any(dim=1)].clone()


@nonzero_rows.register_fake
def _nonzero_rows_fake(x):
    n = torch.library.get_ctx().new_dynamic_size()
    return x.new_empty(n, x.shape[1])


_lib = torch.library.Library("st_test", "FRAGMENT")
_lib.define("outer_sum(Tensor a, Tensor b) -> Tensor")
_lib.impl("outer_sum", lambda a, b: a[:, None] + b[None, :], "CompositeExplicitAutograd")


@torch.library.register_fake("st_test::outer_sum")
def _outer_sum_fake(a, b):
    return a.new_empty(a.shape[0], b.shape[0])


class Tutorial(torch.nn.Module):
    """The reference tutorial's custom-op example."""

    def forward(self, x):
        x = torch.sin(x)
        x = torch.ops.st_test.custom_op(x)
        return torch.cos(x)


class Mixed(torch.nn.Module):
    def forward(self, x, y):
        a = pad_rows(custom_op(x), 2)
        b = torch.ops.st_test.outer_sum(a[:, 0], y)
        return halve_if_long(b) * 2


class DataDependent(torch.nn.Module):
    def forward(self, x):
        rows = nonzero_rows(x * 2)
        return rows.sum(0), rows.shape[0] * torch.ones(1)


def test_tutorial_custom_op_is_one_node():
    x = torch.randn(3, 3)
    ep = strict_tracer.export(Tutorial(), (x,))
    assert readable(ep) == readable(torch.export.export(Tutorial(), (x,), strict=True))
    calls.clear()
    assert_same(*run_both(Tutorial(), ep, (x,)))
    assert calls == ["custom_op", "custom_op"]      # the program runs the real kernel


def test_custom_op_def_called_directly_records_the_user_line():
    ep = strict_tracer.export(Mixed(), (torch.randn(3, 2), torch.randn(4)))
    (node,) = [n for n in ep.graph.nodes if n.target is torch.ops.st_test.pad_rows.default]
    assert "test_custom_ops.py" in node.meta["stack_trace"].splitlines()[-2]


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_symbolic_shapes_from_interpreted_fake_implementations(dynamic):
    mod, args = Mixed(), (torch.randn(3, 2), torch.randn(4))
    dynamic_shapes = ({0: Dim.DYNAMIC}, {0: Dim.DYNAMIC}) if dynamic else None
    ep = strict_tracer.export(mod, args, dynamic_shapes=dynamic_shapes)
    fresh = [(torch.randn(4, 2), torch.randn(7)), (torch.randn(9, 2), torch.randn(2))] if dynamic else []
    for inputs in [args, *fresh]:
        assert_same(*run_both(mod, ep, inputs))
    assert_captures_like_torch_export(mod, args, dynamic_shapes=dynamic_shapes)
    if dynamic:
        (node,) = [n for n in ep.graph.nodes if n.target is torch.ops.st_test.pad_rows.default]
        assert str(node.meta["val"].shape[0]).endswith("+ 2")
        # halve_if_long's fake implementation compared x.shape[0] + 2 > 4 (true at the
        # example): inputs with fewer than 3 rows are outside the program.
        with pytest.raises(Exception, match="Guard failed"):
            ep.module()(torch.randn(2, 2), torch.randn(3))


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_data_dependent_fake_implementation(dynamic):
    x = torch.randn(5, 3)
    x[1] = 0
    dynamic_shapes = ({0: Dim.DYNAMIC, 1: Dim.DYNAMIC},) if dynamic else None
    mod = DataDependent()
    ep = strict_tracer.export(mod, (x,), dynamic_shapes=dynamic_shapes)
    y = torch.randn(7, 4) if dynamic else torch.randn(5, 3)
    y[2:4] = 0
    for inputs in [(x,), (y,)]:
        assert_same(*run_both(mod, ep, inputs))
    assert_captures_like_torch_export(mod, (x,), dynamic_shapes=dynamic_shapes)
