"""Custom ops that write their arguments become `auto_functionalized_v2` calls, as in
torch.export's functional IR: the written tensors' new values are mutation outputs (inputs,
buffers) or flow on (temporaries, views of a base); eager values and eager side effects on
the inputs match, before and after run_decompositions()."""
from __future__ import annotations

import pytest
import torch
from torch.export import Dim
from torch.export.graph_signature import OutputKind

import strict_tracer
from strict_tracer.errors import GraphBreakError

HOP = torch.ops.higher_order.auto_functionalized_v2


@torch.library.custom_op("st_autofunc::scale_both", mutates_args={"a", "b"})
def scale_both(a: torch.Tensor, b: torch.Tensor, k: float) -> torch.Tensor:
    a.mul_(k)
    b.add_(k)
    return a + b


@scale_both.register_fake
def _scale_both_fake(a, b, k):
    return torch.empty_like(a)


@torch.library.custom_op("st_autofunc::bump_all", mutates_args={"xs"})
def bump_all(xs: list[torch.Tensor], extra: torch.Tensor | None) -> None:
    for i, x in enumerate(xs):
        x.add_(i + 1)


@torch.library.custom_op("st_autofunc::maybe_fill", mutates_args={"out"})
def maybe_fill(x: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
    if out is not None:
        out.copy_(x * 3)
    return x.sum().reshape(1)


@maybe_fill.register_fake
def _maybe_fill_fake(x, out):
    return x.new_empty(1)


torch.library.define("st_autofunc::twice_", "(Tensor(a!) self) -> Tensor(a!)", tags=torch.Tag.inplace)


@torch.library.impl("st_autofunc::twice_", "CompositeExplicitAutograd")
def _twice_(x):
    return x.mul_(2)


@torch.library.register_fake("st_autofunc::twice_")
def _twice_fake(x):
    return x


class TwoInputs(torch.nn.Module):
    def forward(self, a, b):
        total = torch.ops.st_autofunc.scale_both(a, b, 3.0)
        return total * a, b - 1


class Lists(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("count", torch.zeros(3))

    def forward(self, x):
        tmp = x.clone()
        torch.ops.st_autofunc.bump_all([tmp, self.count], None)
        return tmp * 2


class ThroughViews(torch.nn.Module):
    def forward(self, x):
        y = x.clone()
        torch.ops.st_autofunc.twice_(y[1:])
        r = torch.ops.st_autofunc.maybe_fill(y[:, 1] + 1, x[:, 0])
        s = torch.ops.st_autofunc.maybe_fill(y, None)
        return y, r, s


def _fresh(args):
    return tuple(a.clone() for a in args)


def _check(mod, args, **kw):
    """Export, then compare outputs, the inputs' new values and the buffers' changes with
    eager's."""
    ep = strict_tracer.export(mod, _fresh(args), **kw)
    for program in (ep, ep.run_decompositions()):
        eager_args, export_args = _fresh(args), _fresh(args)
        before = {k: v.clone() for k, v in mod.state_dict().items()}
        expected = mod(*eager_args)
        eager_change = {k: v - before[k] for k, v in mod.state_dict().items()}
        mod.load_state_dict(before)
        runner = program.module()
        start = {k: v.clone() for k, v in runner.state_dict().items()}
        torch.testing.assert_close(runner(*export_args), expected)
        torch.testing.assert_close(export_args, eager_args)
        change = {k: v - start[k] for k, v in runner.state_dict().items()}
        torch.testing.assert_close(change, eager_change)
    return ep


def test_written_inputs_are_mutation_outputs():
    ep = _check(TwoInputs(), (torch.randn(4), torch.randn(4)))
    assert [n.target for n in ep.graph.nodes].count(HOP) == 1
    kinds = [spec.kind for spec in ep.graph_signature.output_specs]
    assert kinds.count(OutputKind.USER_INPUT_MUTATION) == 2


def test_tensor_lists_buffers_and_optional_arguments():
    ep = _check(Lists(), (torch.randn(3),))
    kinds = [spec.kind for spec in ep.graph_signature.output_specs]
    assert OutputKind.BUFFER_MUTATION in kinds


def test_writes_through_views_reach_their_base():
    _check(ThroughViews(), (torch.randn(4, 3),))


def test_dynamic_sizes():
    ep = _check(TwoInputs(), (torch.randn(5), torch.randn(5)),
                dynamic_shapes={"a": (Dim("n"),), "b": (Dim("n"),)})
    a, b = torch.randn(9), torch.randn(9)
    ea, eb = a.clone(), b.clone()
    torch.testing.assert_close(ep.module()(a, b), TwoInputs()(ea, eb))
    torch.testing.assert_close((a, b), (ea, eb))


def test_a_written_argument_sharing_memory_with_another_is_refused():
    class Shared(torch.nn.Module):
        def forward(self, x):
            y = x.clone()
            return torch.ops.st_autofunc.scale_both(y, y[:2], 2.0)

    with pytest.raises(GraphBreakError, match="shares memory"):
        strict_tracer.export(Shared(), (torch.randn(4),))
