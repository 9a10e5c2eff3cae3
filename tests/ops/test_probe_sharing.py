"""The oracle's two shortcuts for symbolic calls stay sound: stand-ins shared across the calls
of a trace (ops/probe_symbols.StandInPool) and kernels run at the hints for compiled bindings
(ops/hint_kernels.py)."""
import operator
import sys

import pytest
import torch
from torch.export import Dim
from torch.fx.experimental.symbolic_shapes import DimDynamic, ShapeEnv
from torch._dynamo.source import ConstantSource

import strict_tracer
import strict_tracer.ops.dispatch  # noqa: F401  (the module, not the function ops exports)
from strict_tracer.ops.oracle import hint_kernels
from strict_tracer.ops.oracle.probe_symbols import StandInPool, fake_state
from support.helpers import aten_targets, assert_same, run_both

A = Dim.AUTO
dispatch_module = sys.modules["strict_tracer.ops.dispatch"]


# ---------------------------------------------------------------- shared stand-ins
class _OurEnv:
    """Stands for our ShapeEnv: the pool only keeps a weak reference to its owner."""


def _stand_in(torch_env: ShapeEnv, hint: int):
    symbol = torch_env.create_symbol(hint, ConstantSource(StandInPool.source_name()),
                                     dynamic_dim=DimDynamic.DYNAMIC, positive=None,
                                     do_not_specialize_zero_one=True)
    return symbol, torch_env.create_symintnode(symbol, hint=hint)


@pytest.mark.parametrize("teach", [
    lambda s: bool(s > 3),                   # a guard
    lambda s: bool(s == 5),                  # a guard and a replacement
    lambda s: torch._check(s < 100),         # a narrowed range
])
def test_pool_forgets_its_stand_ins_once_torch_learns_about_one(teach):
    torch_env, owner = ShapeEnv(), _OurEnv()
    pool = StandInPool(torch_env, owner)
    symbol, stand_in = _stand_in(torch_env, 5)
    pool.add(("size", symbol), symbol, stand_in)
    pool.settle()
    assert ("size", symbol) in pool.stand_ins      # nothing learned: still shared
    teach(stand_in)
    pool.settle()
    assert pool.stand_ins == {}
    assert pool.owned_by(torch_env, owner) and not pool.owned_by(ShapeEnv(), owner)


class SliceAfterSharedUses(torch.nn.Module):
    """x's sizes reach the oracle through several calls before a slice whose routing depends
    on them (x[:, :6] is an alias at size 6, a real slice otherwise)."""

    def forward(self, x, y):
        z = x * 2 + y
        z = torch.tanh(z) @ y.t()
        w = (x + 1)[:, :6]
        return z, w * 3


def test_routing_facts_are_recorded_when_stand_ins_are_shared():
    # The slice keeps whatever size >= 6 it meets only while dim 1 >= 6: that routing fact
    # must reach the program although x's stand-ins were shared with the earlier calls.
    # (torch.export specializes dim 1 to 6 here; we keep it dynamic above 6.)
    model = SliceAfterSharedUses()
    ep = strict_tracer.export(model, (torch.randn(4, 6), torch.randn(4, 6)),
                              dynamic_shapes={"x": (A, A), "y": (A, A)})
    assert "aten.slice.Tensor" in aten_targets(ep)
    assert sorted(str(r) for r in ep.range_constraints.values()) == ["VR[2, int_oo]", "VR[6, int_oo]"]
    for fresh in [(torch.randn(3, 9), torch.randn(3, 9)), (torch.randn(5, 7), torch.randn(5, 7))]:
        got, want = run_both(model, ep, fresh)
        assert_same(got, want)
    with pytest.raises(AssertionError, match="Guard failed"):
        ep.module()(torch.randn(3, 5), torch.randn(3, 5))


# ---------------------------------------------------------------- shared symbolic fakes
def test_pool_lends_a_fake_again_only_unchanged_and_forgets_them_with_its_stand_ins():
    from strict_tracer.ops.oracle.fakes import fake_mode
    torch_env, owner = ShapeEnv(), _OurEnv()
    symbol, n = _stand_in(torch_env, 5)
    with fake_mode():
        kept, changed, grown = (torch.empty(n, 3) for _ in range(3))
        states = [fake_state(f) for f in (kept, changed, grown)]
        changed.add_(1)                 # an in-place op: version bumped
        grown.unsqueeze_(0)             # a metadata change
    pool = StandInPool(torch_env, owner)       # its mark: what torch's env knows by now
    pool.add(("size", symbol), symbol, n)
    for fake, state in zip((kept, changed, grown), states):
        pool.give_back("key", fake, state)
    assert pool.take_fake("key") is kept and pool.take_fake("key") is None
    pool.give_back("key", kept, states[0])
    pool.settle()
    assert pool.take_fake("key") is kept           # nothing learned: still shared
    pool.give_back("key", kept, states[0])
    bool(n > 3)                                     # torch learns a fact: all forgotten
    pool.settle()
    assert pool.take_fake("key") is None and pool.stand_ins == {}


class SameLayouts(torch.nn.Module):
    """Many calls on tensors of one symbolic layout, two at a time, some in place."""

    def forward(self, x):
        a, b = x * 2, x * 3
        c = a + b
        a.add_(1)
        d = torch.tanh(a) * b
        c.mul_(d)
        return c + a, torch.sigmoid(c - b)


def test_shared_fakes_are_unchanged_and_distinct_in_every_call(monkeypatch):
    # Each symbolic fake an oracle call receives, and each static twin a kernel at the hints
    # runs on, is as it was made (no in-place op since: its version) and no other argument
    # of the same call; calls of one layout share them. The twins a binding is called with
    # in place of its symbolic tensors are distinct in each call and shared across calls.
    first_seen, lent, twins_seen, twins_lent = {}, [], set(), []

    def unchanged(fakes):
        assert len({id(f) for f in fakes}) == len(fakes)
        for f in fakes:
            assert first_seen.setdefault(id(f), (f, f._version))[1] == f._version
        lent.extend(fakes)

    real_probe, real_twin = dispatch_module.probe, hint_kernels.HintKernels._make_twin
    real_with_twins = dispatch_module.probe_with_twins

    def probe(fn, args, kwargs, *rest, **kw):
        unchanged([a for a in args if isinstance(a, torch.Tensor) and not hint_kernels.is_static(a)])
        return real_probe(fn, args, kwargs, *rest, **kw)

    def make_twin(self, meta):
        twin = real_twin(self, meta)
        unchanged([twin])
        return twin

    def probe_with_twins(fn, args, kwargs, grad_enabled, autocast, twins, *rest):
        assert twins and all(hint_kernels.is_static(t) for t in twins)
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        assert len({id(t) for t in tensors}) == len(tensors)
        twins_seen.update(id(t) for t in twins)
        twins_lent.extend(twins)
        return real_with_twins(fn, args, kwargs, grad_enabled, autocast, twins, *rest)
    monkeypatch.setattr(dispatch_module, "probe", probe)
    monkeypatch.setattr(dispatch_module, "probe_with_twins", probe_with_twins)
    monkeypatch.setattr(hint_kernels.HintKernels, "_make_twin", make_twin)
    model = SameLayouts()
    strict_tracer.ops.clear_template_cache()
    ep = strict_tracer.export(model, (torch.randn(3, 4),), dynamic_shapes={"x": (A, A)})
    assert len(twins_seen) < len(twins_lent)
    assert not lent         # every call took its twins: no symbolic fake was made
    for fresh in [torch.randn(5, 2), torch.randn(2, 7)]:
        got, want = run_both(model, ep, (fresh,))
        assert_same(got, want)


class SameLayoutsRouted(torch.nn.Module):
    """Calls that route on their input's layout (contiguous to a memory format) run on
    symbolic fakes."""

    def forward(self, x):
        t = x.transpose(1, 2)
        a = t.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():       # another signature: the grad mode is part of it
            b = t.contiguous(memory_format=torch.channels_last)
        return a * 2, b + 1


def test_symbolic_fakes_of_one_layout_are_shared_unchanged(monkeypatch):
    first_seen, lent = {}, []
    real_probe = dispatch_module.probe

    def probe(fn, args, kwargs, *rest, **kw):
        fakes = [a for a in args if isinstance(a, torch.Tensor) and not hint_kernels.is_static(a)]
        for f in fakes:
            assert first_seen.setdefault(id(f), (f, f._version))[1] == f._version
        lent.extend(fakes)
        return real_probe(fn, args, kwargs, *rest, **kw)
    monkeypatch.setattr(dispatch_module, "probe", probe)
    model = SameLayoutsRouted()
    strict_tracer.ops.clear_template_cache()
    ep = strict_tracer.export(model, (torch.randn(3, 4, 5, 6),), dynamic_shapes={"x": (A,) * 4})
    assert 0 < len(first_seen) < len(lent)
    got, want = run_both(model, ep, (torch.randn(5, 2, 3, 4),))
    assert_same(got, want)


# ---------------------------------------------------------------- kernels at the hints
def test_only_compiled_bindings_that_do_not_route_on_outputs_are_eligible():
    assert hint_kernels.eligible(torch.Tensor.view)
    assert hint_kernels.eligible(torch._C._nn.linear)
    assert hint_kernels.eligible(torch.matmul)
    assert hint_kernels.eligible(operator.mul)
    assert not hint_kernels.eligible(operator.getitem)      # indexing routes on its outputs
    assert not hint_kernels.eligible(operator.setitem)
    assert not hint_kernels.eligible(torch.nn.functional.softmax)   # Python code
    assert not hint_kernels.eligible(torch.Tensor.__getitem__)


@pytest.fixture
def probes(monkeypatch):
    """(callable name, ran at the hints) of every oracle call of the export."""
    seen = []

    def spying(real):
        def spy(fn, *args, **kwargs):
            result = real(fn, *args, **kwargs)
            seen.append((getattr(fn, "__name__", repr(fn)), result.at_hints))
            return result
        return spy
    for name in ("probe", "probe_with_twins"):
        monkeypatch.setattr(dispatch_module, name, spying(getattr(dispatch_module, name)))
    return seen


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(16, 48)

    def forward(self, x):
        b, t, _ = x.shape
        qkv = self.qkv(x).view(b, t, 3, 4, 4).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1)
        return (att @ v).transpose(1, 2).reshape(b, t, -1)


def test_symbolic_calls_of_a_model_run_their_kernels_at_the_hints(probes):
    model = Attention().eval()
    ep = strict_tracer.export(model, (torch.randn(2, 5, 16),),
                              dynamic_shapes={"x": (Dim.DYNAMIC, Dim.DYNAMIC, Dim.STATIC)})
    at_hints = dict(probes)
    assert at_hints["view"] and at_hints["linear"] and at_hints["reshape"]
    # q, k, v = qkv[0], ...: indexing is applied as its own ops (aten.select), at the hints
    assert "getitem" not in at_hints and at_hints["select"]
    for fresh in [torch.randn(3, 7, 16), torch.randn(1, 2, 16)]:
        got, want = run_both(model, ep, (fresh,))
        assert_same(got, want)


class SymbolicFactories(torch.nn.Module):
    def forward(self, x):
        b, t = x.shape
        positions = torch.arange(t).float()
        return x + positions + torch.zeros(b, 1) + torch.ones(b, t) * torch.full((t,), 2.0)


def test_factories_of_symbolic_sizes_run_at_the_hints(probes):
    # A factory binding returns a new tensor object over its call's output: still that output.
    model = SymbolicFactories()
    strict_tracer.ops.clear_template_cache()
    ep = strict_tracer.export(model, (torch.randn(3, 4),), dynamic_shapes={"x": (A, A)})
    at_hints = dict(probes)
    assert at_hints["arange"] and at_hints["zeros"] and at_hints["ones"] and at_hints["full"]
    for fresh in [torch.randn(5, 2), torch.randn(2, 7)]:
        got, want = run_both(model, ep, (fresh,))
        assert_same(got, want)


class InPlaceViews(torch.nn.Module):
    def forward(self, x):
        y = x.clone()
        y.t_()
        y.unsqueeze_(0)
        return y * 2


def test_in_place_metadata_change_runs_symbolically(probes):
    model = InPlaceViews()
    ep = strict_tracer.export(model, (torch.randn(3, 5),), dynamic_shapes={"x": (A, A)})
    at_hints = dict(probes)
    assert at_hints["t_"] is False and at_hints["unsqueeze_"] is False
    got, want = run_both(model, ep, (torch.randn(4, 7),))
    assert_same(got, want)


class BadView(torch.nn.Module):
    def forward(self, x):
        return x.t().view(-1, 3)


def test_an_error_at_the_hints_is_the_static_export_error():
    args = (torch.randn(4, 6),)
    with pytest.raises(Exception) as static:
        strict_tracer.export(BadView(), args)
    with pytest.raises(Exception) as dynamic:
        strict_tracer.export(BadView(), args, dynamic_shapes={"x": (A, A)})
    assert type(dynamic.value) is type(static.value)
    assert str(dynamic.value) == str(static.value)


class NonzeroOfDynamic(torch.nn.Module):
    def forward(self, x):
        idx = torch.nonzero(x > 0)
        return idx.shape[0] + x.sum(), idx * 2


def test_data_dependent_output_sizes_run_symbolically(probes):
    model = NonzeroOfDynamic()
    ep = strict_tracer.export(model, (torch.randn(4, 5),), dynamic_shapes={"x": (A, A)})
    assert dict(probes)["nonzero"] is False       # its size is unbacked, not the hint's
    for fresh in [torch.randn(6, 3), torch.randn(2, 9)]:
        got, want = run_both(model, ep, (fresh,))
        assert_same(got, want)


def _recorded(output):
    from strict_tracer.ops.oracle.probe import RecordedCall
    return RecordedCall(torch.ops.aten.add.Tensor, (), {}, output)


def test_shortcut_is_abandoned_when_the_binding_may_have_routed_on_outputs():
    at_hints = hint_kernels.HintKernels({})
    out, other = torch.empty(2), torch.empty(2)
    at_hints.check(out, [])         # no call (returned an input): no kernel ran at the hints
    at_hints.used = True            # from here on, a kernel ran at the hints
    at_hints.check(out, [_recorded(out)])                       # one call, its output: kept
    with pytest.raises(hint_kernels.NeedsSymbolic, match="single"):
        at_hints.check(out, [_recorded(out), _recorded(out)])   # a second call
    with pytest.raises(hint_kernels.NeedsSymbolic, match="more than"):
        at_hints.check(other, [_recorded(out)])                 # not the call's output
    with pytest.raises(hint_kernels.NeedsSymbolic, match="more than"):
        at_hints.check((out, 3), [_recorded(out)])              # a scalar beside it
    with pytest.raises(hint_kernels.NeedsSymbolic, match="output of type int"):
        at_hints._untwin(3)                  # a scalar the kernel computed at the hints
    with pytest.raises(hint_kernels.NeedsSymbolic, match="second"):
        at_hints.run(torch.ops.aten.add.Tensor, (out, out), {})


def test_a_decomposition_runs_constant_factories_beside_its_one_call_at_the_hints():
    from strict_tracer.ops.oracle.fakes import fake_mode
    from strict_tracer.ops.oracle.probe import RecordedCall
    aten = torch.ops.aten
    at_hints = hint_kernels.HintKernels({}, constant_factories=True)
    with fake_mode():
        x = torch.empty(2, 3)
        reserve = at_hints.run(aten.empty.memory_format, ([0],), {"dtype": torch.uint8})
        out = at_hints.run(aten.relu.default, (x,), {})         # the one call at the hints
    assert tuple(reserve.shape) == (0,) and reserve.dtype is torch.uint8
    assert tuple(out.shape) == (2, 3)
    factory = RecordedCall(aten.empty.memory_format, ([0],), {"dtype": torch.uint8}, reserve)
    call = RecordedCall(aten.relu.default, (x,), {}, out)
    at_hints.check(out, [factory, call])                          # the factory set aside: kept
    with pytest.raises(hint_kernels.NeedsSymbolic, match="single"):
        at_hints.check(out, [factory, call, call])
    with pytest.raises(hint_kernels.NeedsSymbolic, match="more than"):
        at_hints.check(reserve, [factory, call])                # the factory's output returned
    with pytest.raises(hint_kernels.NeedsSymbolic, match="second"):
        at_hints.run(aten.relu.default, (x,), {})
    plain = hint_kernels.HintKernels({})            # a binding's: a factory is a call too
    plain.used = True
    with pytest.raises(hint_kernels.NeedsSymbolic, match="single"):
        plain.check(out, [factory, call])


def test_twin_inputs_stand_only_for_one_call_that_kept_their_layout():
    from strict_tracer.ops.oracle.fakes import fake_mode
    with fake_mode():
        twin, made = torch.empty(3, 4), torch.empty(3, 4)
    at_hints = hint_kernels.HintKernels({}, inputs=[twin])
    with pytest.raises(hint_kernels.NeedsSymbolic, match="no ATen call"):
        at_hints.check(twin, [])            # the binding may have decided on the twin's sizes
    at_hints.used = True
    at_hints.check(twin, [_recorded(twin)])                     # one call returning its input
    at_hints.check(made, [_recorded(made)])
    with fake_mode():
        twin.t_()
    with pytest.raises(hint_kernels.NeedsSymbolic, match="in-place"):
        at_hints.check(twin, [_recorded(twin)])


def test_shortcut_is_abandoned_for_unknown_or_data_dependent_arguments():
    torch_env = ShapeEnv()
    _, n = _stand_in(torch_env, 5)
    unbacked = torch_env.create_unbacked_symint()
    with pytest.raises(hint_kernels.NeedsSymbolic, match="data-dependent"):
        hint_kernels.HintKernels({})._twin((n, unbacked))
    assert hint_kernels.HintKernels({})._twin([n, 2]) == [5, 2]   # backed: its hint
    from strict_tracer.ops.oracle.fakes import fake_mode
    with fake_mode():
        foreign = torch.empty(n, 3)          # symbolic, but not one of the call's fakes
    with pytest.raises(hint_kernels.NeedsSymbolic, match="did not make"):
        hint_kernels.HintKernels({})._twin(foreign)


class Contiguous(torch.nn.Module):
    def forward(self, x):
        y = (x * 2).contiguous()            # already contiguous: torch makes no ATen call
        z = x.t().contiguous()              # a copy
        return y + 1, z.sum(0)


def test_contiguous_runs_at_most_its_copy_at_the_hints(probes, monkeypatch):
    runs, real_run = [], sys.modules["strict_tracer.ops.oracle.probe"]._run

    def counting(fn, *args, **kwargs):
        runs.append(getattr(fn, "__name__", repr(fn)))
        return real_run(fn, *args, **kwargs)
    monkeypatch.setattr(sys.modules["strict_tracer.ops.oracle.probe"], "_run", counting)
    model = Contiguous()
    strict_tracer.ops.clear_template_cache()
    ep = strict_tracer.export(model, (torch.randn(3, 4),), dynamic_shapes={"x": (A, A)})
    # contiguous() is decided by our engine (interpreter/tensors/contiguity.py): the no-op
    # one runs nothing, the copying one its aten.contiguous at the hints, once.
    assert "contiguous" not in runs and runs.count("contiguous.default") == 1
    assert ("contiguous.default", True) in probes
    for fresh in [torch.randn(5, 2), torch.randn(2, 7)]:
        got, want = run_both(model, ep, (fresh,))
        assert_same(got, want)


# ---------------------------------------------------------------- strides made of sizes
def _proxy(env, shape, sym_strides):
    from strict_tracer.proxy import TensorMeta, TensorProxy
    hint = [s if type(s) is int else s.hint for s in shape]
    strides = [s if type(s) is int else s.hint for s in sym_strides]
    meta = TensorMeta(tuple(shape), torch.float32, torch.device("cpu"), strides=tuple(strides))
    meta.sym_strides = tuple(sym_strides)
    return TensorProxy(torch.fx.Graph().placeholder("x"), meta)


def test_a_stride_made_of_the_sizes_is_keyed_by_that_recipe():
    # (b, t, 32) laid out with stride 32*t, and a slice of a (b, m, 32) tensor with stride
    # 32*m at the same hints: contiguous() is an alias for the first at every size, a copy for
    # the second unless t == m. The oracle tells torch the first stride as 32*t, so the two
    # calls must not share a template.
    from strict_tracer.ops.call_signature import lookup
    from strict_tracer.symbolic import ShapeEnv as OurEnv
    env = OurEnv()
    b, t, m = (env.create_symbol(h, f"s{k}") for k, h in enumerate((2, 5, 5)))
    dense = _proxy(env, (b, t, 32), (32 * t, 32, 1))
    sliced = _proxy(env, (b, t, 32), (32 * m, 32, 1))
    other = _proxy(env, (b, m, 32), (32 * m, 32, 1))          # the same recipe over m
    head = (torch.Tensor.contiguous, None, True, None)
    keys = [lookup({}, head, (p,), {}, env) for p in (dense, sliced, other)]
    assert keys[0][0] != keys[1][0]
    assert keys[0][0][0][-2:] == keys[2][0][0][-2:]     # args and kwargs signatures alike
    assert keys[0][3].recipes and not keys[1][3].recipes


class HeadsMerged(torch.nn.Module):
    """Views of split and transposed layouts, whose strides (32*t, 96*t) the view rules compute,
    made contiguous: torch decides contiguity from how the strides follow the sizes."""

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = (x * 2).split(32, dim=2)
        a = q.view(b, t, 4, 8).contiguous()
        o = (k.view(b, t, 4, 8).transpose(1, 2) * 2).transpose(1, 2).contiguous()
        return a, o.reshape(b, t, 32).contiguous() + v.contiguous()


def test_strides_made_of_sizes_teach_torch_nothing(monkeypatch):
    # Given as expressions of the size stand-ins, such strides need no guard in torch's env:
    # the trace's stand-ins stay shared throughout, and the program runs as eager.
    cleared = []
    real_settle = StandInPool.settle

    def settle(self):
        had = bool(self.stand_ins)
        real_settle(self)
        cleared.append(had and not self.stand_ins)
    monkeypatch.setattr(StandInPool, "settle", settle)
    model = HeadsMerged()
    strict_tracer.ops.clear_template_cache()
    ep = strict_tracer.export(model, (torch.randn(2, 5, 96),),
                              dynamic_shapes={"x": (Dim.DYNAMIC, Dim.DYNAMIC, Dim.STATIC)})
    assert cleared and not any(cleared)
    for fresh in [torch.randn(3, 7, 96), torch.randn(1, 2, 96), torch.randn(4, 1, 96)]:
        got, want = run_both(model, ep, (fresh,))
        assert_same(got, want)
