"""What a probe saves beyond the op's own kernel gives the programs the probe gave before:

- pruning torch's cached-op set (ops/oracle/pre_dispatch.py) keeps every op that holds a
  PreDispatch entry, and the recorder still sees every call afterwards.
"""
import torch
from torch._dispatch.python import enable_python_dispatcher
from torch._ops import get_cached_ops

from strict_tracer.ops.oracle import pre_dispatch
from strict_tracer.ops.oracle import probe as probe_module
from strict_tracer.ops.oracle.fakes import fake_mode, make_fake
from strict_tracer.proxy import TensorMeta

CPU = torch.device("cpu")


class _HoldsPreDispatch:
    """Stands for an op with a cached PreDispatch entry (torch caches none today)."""

    def __init__(self):
        self._dispatch_cache = {torch._C.DispatchKey.PreDispatch: None}


def test_prune_keeps_ops_holding_a_pre_dispatch_entry():
    with enable_python_dispatcher():
        x = make_fake(TensorMeta((3,), torch.float32, CPU, False))
        with fake_mode():
            x + 1
    cached = get_cached_ops()
    holders = [_HoldsPreDispatch() for _ in range(pre_dispatch._PRUNE_AT)]
    cached.update(holders)      # enough entries for a pruning walk
    try:
        pre_dispatch.prune()
        assert all(h in cached for h in holders)
        assert all(any(k in op._dispatch_cache for k in pre_dispatch._KEYS) for op in cached)
    finally:
        cached.difference_update(holders)


def test_an_op_cached_again_after_pruning_is_walked_again():
    op = torch.ops.aten.neg.default
    x = make_fake(TensorMeta((2,), torch.float32, CPU, False))
    with enable_python_dispatcher(), fake_mode():
        op(x)
    holders = [_HoldsPreDispatch() for _ in range(pre_dispatch._PRUNE_AT)]
    get_cached_ops().update(holders)
    pre_dispatch.prune()
    get_cached_ops().difference_update(holders)
    assert op not in get_cached_ops()
    op._dispatch_cache.clear()          # as torch does when a kernel is registered for it
    with enable_python_dispatcher(), fake_mode():
        op(x)                           # cached again: torch puts it back in the set
    assert op in get_cached_ops()


def test_recorder_sees_every_call_after_pruning():
    x = make_fake(TensorMeta((2, 3), torch.float32, CPU, False))
    before = probe_module.probe(lambda t: (t + 1).relu().sum(0), (x,), {}, False)
    for _ in range(pre_dispatch._PRUNE_AT):
        get_cached_ops().add(torch.ops.aten.add.Tensor)
    pre_dispatch.prune()
    after = probe_module.probe(lambda t: (t + 1).relu().sum(0), (x,), {}, False)
    assert [c.op for c in after.calls] == [c.op for c in before.calls] == [
        torch.ops.aten.add.Tensor, torch.ops.aten.relu.default, torch.ops.aten.sum.dim_IntList]
