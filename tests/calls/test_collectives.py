"""torch.distributed collectives in forward(): each supported in-place c10d call becomes its
functional collective, its wait_tensor and a copy into the tensor it writes (the ops
torch.export records); async calls, unmapped collectives and mismatched outputs are refused.

A "fake" process group (no communication) stands in for a real one: its functional
collectives run, so the exported programs are compared with eager where the fake backend's
in-place and functional forms agree.
"""
import pytest
import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as funcol
from torch.export import Dim

import strict_tracer
from strict_tracer.errors import GraphBreakError
from support.helpers import CallFn

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not built")

C10D = torch.ops._c10d_functional


@pytest.fixture
def group():
    """A default process group of 2 ranks on the fake backend, torn down after the test."""
    dist.init_process_group(backend="fake", store=dist.HashStore(), world_size=2, rank=0)
    try:
        yield dist.group.WORLD
    finally:
        dist.destroy_process_group()


def _calls(ep, op):
    return [n for n in ep.graph.nodes if n.target is op]


def _only_call(ep, op):
    (node,) = _calls(ep, op)
    return node


def _same_as_eager(mod, args, ep):
    for ours, eager in zip(torch.utils._pytree.tree_leaves(ep.module()(*args)),
                           torch.utils._pytree.tree_leaves(mod(*args))):
        torch.testing.assert_close(ours, eager)


class AllReduceAfterLinear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)

    def forward(self, x):
        y = self.linear(x).relu()
        dist.all_reduce(y, op=dist.ReduceOp.MAX)
        return y * 2


def test_all_reduce_is_functional_then_waited_then_copied(group):
    mod, args = AllReduceAfterLinear(), (torch.randn(5, 4),)
    ep = strict_tracer.export(mod, args)
    reduce = _only_call(ep, C10D.all_reduce.default)
    assert reduce.args[1:] == ("max", group.group_name)
    wait = _only_call(ep, C10D.wait_tensor.default)
    assert wait.args == (reduce,)
    copy = _only_call(ep, torch.ops.aten.copy.default)
    assert copy.args[1] is wait and copy.args[0] is reduce.args[0]
    _same_as_eager(mod, args, ep)


def test_all_gather_into_a_list_slices_the_gathered_rows_with_dynamic_sizes(group):
    def gather(x):
        parts = [torch.empty_like(x) for _ in range(2)]
        dist.all_gather(parts, x)
        return parts[0] - parts[1], parts[1]
    mod, args = CallFn(gather), (torch.randn(3, 2),)
    ep = strict_tracer.export(mod, args, dynamic_shapes=({0: Dim("n", min=2)},))
    gathered = _only_call(ep, C10D.all_gather_into_tensor.default)
    assert gathered.args[1:] == (2, group.group_name)
    assert len(_calls(ep, torch.ops.aten.slice.Tensor)) == 2
    assert [str(r) for r in ep.range_constraints.values()] == ["VR[2, int_oo]"]
    for rows in (2, 7):
        _same_as_eager(mod, (torch.randn(rows, 2),), ep)


def test_all_gather_into_tensor_and_reduce_scatter_tensor(group):
    def gather(x):
        out = torch.zeros(2 * x.shape[0], 3)
        dist.all_gather_into_tensor(out, x)
        return out

    def scatter(x):
        out = torch.zeros(x.shape[0] // 2, 3)
        dist.reduce_scatter_tensor(out, x, op=dist.ReduceOp.SUM)
        return out + 1
    for fn, op, rest in ((gather, C10D.all_gather_into_tensor.default, (2, "0")),
                         (scatter, C10D.reduce_scatter_tensor.default, ("sum", 2, "0"))):
        mod, args = CallFn(fn), (torch.randn(4, 3),)
        ep = strict_tracer.export(mod, args)
        assert _only_call(ep, op).args[1:] == rest
        _same_as_eager(mod, args, ep)


def test_all_to_all_single_splits_evenly_or_as_given(group):
    def even(x):
        out = torch.empty(6)
        dist.all_to_all_single(out, x)
        return out

    def given(x):
        out = torch.empty(5)
        dist.all_to_all_single(out, x, output_split_sizes=[2, 3], input_split_sizes=[1, 5])
        return out
    ep = strict_tracer.export(CallFn(even), (torch.randn(6),))
    assert _only_call(ep, C10D.all_to_all_single.default).args[1:3] == ([3, 3], [3, 3])
    ep = strict_tracer.export(CallFn(given), (torch.randn(6),))
    assert _only_call(ep, C10D.all_to_all_single.default).args[1:3] == ([2, 3], [1, 5])


def test_all_reduce_of_a_buffer_is_a_buffer_mutation(group):
    class Stats(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("total", torch.ones(3))

        def forward(self, x):
            self.total.add_(x.sum(0))
            dist.all_reduce(self.total)
            return x * self.total
    ep = strict_tracer.export(Stats(), (torch.randn(2, 3),))
    assert list(ep.graph_signature.buffers_to_mutate.values()) == ["total"]
    _only_call(ep, C10D.all_reduce.default)


def test_functional_collectives_called_directly(group):
    def direct(x):
        return funcol.all_reduce(x, "avg", group) + funcol.all_gather_tensor(x, 0, group)[:2]
    mod, args = CallFn(direct), (torch.randn(2, 2),)
    ep = strict_tracer.export(mod, args)
    assert _only_call(ep, C10D.all_reduce.default).args[1] == "avg"
    assert len(_calls(ep, C10D.wait_tensor.default)) == 2
    _same_as_eager(mod, args, ep)


def _refusal(fn, *args):
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(CallFn(fn), args)
    return str(info.value)


def test_refusals_name_the_call_and_the_fix(group):
    def asynchronous(x):
        dist.all_reduce(x, async_op=True)
        return x

    def unmapped(x):
        dist.broadcast(x, 0)
        return x

    def wrong_output(x):
        out = torch.empty(3)
        dist.all_gather_into_tensor(out, x)
        return out

    def wrong_dtype(x):
        out = torch.empty(4, dtype=torch.float64)
        dist.all_gather_into_tensor(out, x)
        return out

    def premul(x):
        dist.all_reduce(x, op=dist.ReduceOp.PREMUL_SUM)
        return x

    def uneven(x):
        out = torch.empty(3)
        dist.all_to_all_single(out, x)
        return out
    x = torch.randn(2)
    assert "all_reduce(async_op=True) returns a Work handle" in _refusal(asynchronous, x)
    text = _refusal(unmapped, x)
    assert "torch.distributed.broadcast has no functional collective" in text
    assert "all_reduce" in text and "all_to_all_single" in text
    assert "output tensor has dtype torch.float32 and shape [3]" in _refusal(wrong_output, x)
    assert "output tensor has dtype torch.float64" in _refusal(wrong_dtype, x)
    assert "SUM, AVG, PRODUCT" in _refusal(premul, x)
    assert "does not divide them" in _refusal(uneven, torch.randn(3))


def test_without_a_process_group_the_error_is_eagers():
    def reduce(x):
        dist.all_reduce(x)
        return x
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        reduce(torch.randn(2))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        strict_tracer.export(CallFn(reduce), (torch.randn(2),))


def test_real_tensor_propagation_exports_the_same_program(group):
    # wait_tensor's real kernel returns its input: no custom op's fake implementation to
    # hold that against (interpreter/calls/real_checks.py).
    args = (torch.randn(5, 4),)
    plain = strict_tracer.export(AllReduceAfterLinear(), args)
    with torch._functorch.config.patch(fake_tensor_propagate_real_tensors=True):
        real = strict_tracer.export(AllReduceAfterLinear(), args)
    assert real.graph_module.code == plain.graph_module.code
    assert _calls(real, C10D.wait_tensor.default)
