"""What a probe saves beyond the op's own kernel gives the programs the probe gave before:

- a static probe's recorded linear / addmm / layer_norm takes its output from
  ops/oracle/hint_outputs.py instead of the kernel: the same recorded calls and outputs, and
  the same exported programs (graph, node metadata, guards) as with the kernel;
- pruning torch's cached-op set (ops/oracle/pre_dispatch.py) keeps every op that holds a
  PreDispatch entry, and the recorder still sees every call afterwards;
- functionalization's decomposition of batch_norm runs its one kernel at the hints
  (hint_kernels.decomposes_to_one_call) and gives the program its symbolic run gave.
"""
import pytest
import torch
import torch.nn.functional as F
from torch._dispatch.python import enable_python_dispatcher
from torch._ops import get_cached_ops
from torch.export import Dim

import strict_tracer
from strict_tracer.ops import clear_template_cache
from strict_tracer.ops.oracle import hint_kernels, pre_dispatch
from strict_tracer.ops.oracle import probe as probe_module
from strict_tracer.ops.oracle.fakes import fake_mode, make_fake
from strict_tracer.proxy import TensorMeta
from support.helpers import assert_same, readable, run_both
from support.package_snapshot import describe

CPU = torch.device("cpu")


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(8, 16), torch.nn.Linear(16, 8, bias=False)
        self.norm = torch.nn.LayerNorm(8)
        self.w = torch.nn.Parameter(torch.randn(8, 8))
        self.bias = torch.nn.Parameter(torch.randn(8))

    def forward(self, x):
        y = self.b(torch.relu(self.a(x))) + self.a(x.transpose(0, 1)).sum()
        conv1d = torch.addmm(self.bias, y.reshape(-1, 8), self.w).view(y.shape)    # HF's Conv1D
        out = self.norm(conv1d) + F.layer_norm(y.transpose(0, 1), (8,)).transpose(0, 1)
        return out, self.a(x.to(torch.float64).to(torch.float32)[:, 1:])


def _export(model, args, dynamic, shortcut, monkeypatch):
    """The program, and the ops the static shortcut answered for while exporting it."""
    real, answered = probe_module.known_output, []

    def spy(func, args, kwargs):
        out = real(func, args, kwargs) if shortcut else None
        if out is not None:
            answered.append(str(func))
        return out
    monkeypatch.setattr(probe_module, "known_output", spy)
    clear_template_cache()
    ep = strict_tracer.export(model, args, dynamic_shapes=dynamic)
    monkeypatch.undo()
    return ep, answered


@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("dynamic", [None, {"x": (Dim.DYNAMIC, Dim.DYNAMIC, Dim.STATIC)}])
def test_static_shortcut_gives_the_kernels_program(grad, dynamic, monkeypatch):
    model, args = Mlp(), (torch.randn(3, 4, 8),)
    with torch.set_grad_enabled(grad):
        ours, answered = _export(model, args, dynamic, True, monkeypatch)
        theirs, _ = _export(model, args, dynamic, False, monkeypatch)
    if dynamic is None:
        assert {"aten.linear.default", "aten.addmm.default",
                "aten.layer_norm.default"} <= set(answered)
    assert readable(ours) == readable(theirs)
    assert describe(ours) == describe(theirs)
    assert str(ours.range_constraints) == str(theirs.range_constraints)
    got, want = run_both(model, ours, args)
    assert_same(got, want)


def _layout(t):
    return (tuple(t.shape), t.stride(), t.storage_offset(), t.dtype, t.requires_grad, t.is_leaf)


@pytest.mark.parametrize("grad", [True, False])
def test_static_probe_records_the_same_call_and_output(grad, monkeypatch):
    x = make_fake(TensorMeta((2, 3, 8), torch.float32, CPU, False))
    w = make_fake(TensorMeta((4, 8), torch.float32, CPU, True, is_leaf=True))
    bias = make_fake(TensorMeta((4,), torch.float32, CPU, True, is_leaf=True))
    cases = [(F.linear, (x, w)), (torch.addmm, (bias, x.view(6, 8), w.t())),
             (F.layer_norm, (x, (8,)))]
    for fn, args in cases:
        ours = probe_module.probe(fn, args, {}, grad)
        monkeypatch.setattr(probe_module, "known_output", lambda func, args, kwargs: None)
        theirs = probe_module.probe(fn, args, {}, grad)
        monkeypatch.undo()
        assert [(c.op, c.args[1:], c.kwargs) for c in ours.calls] == \
            [(c.op, c.args[1:], c.kwargs) for c in theirs.calls]
        assert _layout(ours.output) == _layout(theirs.output)


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


class ConvNorm(torch.nn.Module):
    def __init__(self, affine: bool, stats: bool):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.norm = torch.nn.BatchNorm2d(4, affine=affine, track_running_stats=stats)
        self.flat = torch.nn.BatchNorm1d(4)

    def forward(self, x):
        y = self.norm(self.conv(x))
        return y, self.flat(y.mean((2, 3)))


def _export_counting(model, args, dynamic, at_hints, monkeypatch):
    """The program, and the kernels run at the hints inside decompositions while making it."""
    runs: list = []
    real_run = hint_kernels.HintKernels.run

    def run(self, func, args, kwargs):
        if self.constant_factories:
            runs.append(str(func))
        return real_run(self, func, args, kwargs)
    with monkeypatch.context() as m:
        m.setattr(hint_kernels.HintKernels, "run", run)
        if not at_hints:
            m.setattr(hint_kernels, "decomposes_to_one_call", lambda fn: False)
        clear_template_cache()
        return strict_tracer.export(model, args, dynamic_shapes=dynamic), runs


@pytest.mark.parametrize("affine,stats", [(True, True), (False, True), (True, False)])
@pytest.mark.parametrize("dim", [Dim("batch", min=2, max=64), Dim("batch", max=64)])
def test_batch_norm_decomposed_at_the_hints_gives_the_symbolic_program(affine, stats, dim,
                                                                       monkeypatch):
    model, args = ConvNorm(affine, stats).eval(), (torch.randn(3, 3, 5, 5),)
    dynamic = {"x": {0: dim}}
    try:
        ours, runs = _export_counting(model, args, dynamic, True, monkeypatch)
    except strict_tracer.StrictTracerError as refusal:
        # Batch statistics of an empty batch fail (sizes 0/1 check): refused alike both ways.
        with pytest.raises(type(refusal)) as theirs_refusal:
            _export_counting(model, args, dynamic, False, monkeypatch)
        assert str(theirs_refusal.value) == str(refusal)
        return
    theirs, none = _export_counting(model, args, dynamic, False, monkeypatch)
    assert none == []
    if stats:       # eval with running stats: _native_batch_norm_legit_no_training
        assert "aten._native_batch_norm_legit_no_training.default" in runs
    assert readable(ours) == readable(theirs)
    assert describe(ours) == describe(theirs)
    assert str(ours.range_constraints) == str(theirs.range_constraints)
    for batch in (2, 5):
        x = torch.randn(batch, 3, 5, 5)
        got, want = run_both(model, ours, (x,))
        assert_same(got, want)
