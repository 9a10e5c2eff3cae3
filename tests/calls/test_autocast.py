"""torch.autocast blocks inside forward() become wrap_with_autocast regions, like torch.export.

Dtypes: eager (and `ep.module()`, which runs each region under torch.autocast) returns bf16
from `linear`/`matmul` in a CPU bf16 region. torch.export 2.13 prints f32 for those nodes (its
pre-dispatch tracer records the op above the autocast key and keeps the input dtype), so its
programs can fail at run time (`y.float()` after a region records a float32 metadata assert
that the bf16 tensor violates). We follow eager: node metadata must describe what the program
really computes, or later dtype/shape logic in the trace (and in consumers) is wrong.
"""
from __future__ import annotations

import copy
import io

import pytest
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.errors import Category, GraphBreakError

from support.helpers import assert_same, run_and_compare_state, run_both

_WRAP = torch.ops.higher_order.wrap_with_autocast
_GRAD = torch.ops.higher_order.wrap_with_set_grad_enabled
BF16 = {"atol": 1e-2, "rtol": 1e-2}     # bf16 has 8 bits of mantissa


def _regions(gm: torch.nn.Module, depth: int = 0) -> list[tuple]:
    """(depth, wrapper, constant args) of every wrap node, outer graphs first (pre-order)."""
    found = []
    for node in gm.graph.nodes:
        if node.op == "call_function" and node.target in (_WRAP, _GRAD):
            n_const = 4 if node.target is _WRAP else 1
            found.append((depth, node.target.__name__, tuple(node.args[:n_const])))
            found += _regions(getattr(gm, node.args[n_const].target), depth + 1)
    return found


def _autocast_state() -> tuple:
    return (torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"),
            torch.is_autocast_cache_enabled(), torch.is_autocast_enabled("cuda"))


def _export(mod, args, **kw):
    before = _autocast_state()
    ep = strict_tracer.export(mod, args, **kw)
    assert _autocast_state() == before, "export changed the process's autocast state"
    return ep


def _torch_regions(mod, args, **kw) -> list[tuple]:
    return _regions(torch.export.export(copy.deepcopy(mod), args, strict=True, **kw).graph_module)


class TwoRegions(torch.nn.Module):
    """The task's example: a bf16 region, then an enabled=False region."""

    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(4, 4)

    def forward(self, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = self.l(x)
        with torch.autocast("cpu", enabled=False):
            z = self.l(x)
        return y.float() + z, y


class Nested(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(4, 4)

    def forward(self, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = self.l(x)
            with torch.autocast("cpu", enabled=False):
                z = self.l(y.float())
            w = self.l(z)
        return w, z


@torch.autocast("cpu")
def _decorated(layer, x):
    return layer(x).relu()


@torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False)
def _decorated_no_cache(layer, x):
    return layer(x) * 2


class Decorated(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(4, 4)

    def forward(self, x):
        return _decorated(self.l, x).float() + _decorated_no_cache(self.l, x).float()


class Bf16Output(torch.nn.Module):
    """The model's output is the region's bf16 tensor (torch.cpu.amp.autocast, fp16 attribute)."""

    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(4, 4)
        self.half = torch.autocast("cpu", dtype=torch.float16)

    def forward(self, x):
        with torch.cpu.amp.autocast():
            y = self.l(x)
        with self.half:
            h = self.l(x)
        return y, h


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q = torch.nn.Linear(8, 8)
        self.k = torch.nn.Linear(8, 8)

    def forward(self, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            q, k = self.q(x), self.k(x)
            scores = q @ k.transpose(-1, -2) / 8 ** 0.5
            probs = scores.softmax(-1)
            out = probs @ k
        return out.view(x.shape[0], -1), probs.sum(-1)


class Rotary(torch.nn.Module):
    """The rotary-embedding pattern of Hugging Face Llama: float32 forced in a disabled region
    (the device type read from the input), under a no_grad decorator."""

    def __init__(self, dim=8):
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim)),
                             persistent=False)
        self.proj = torch.nn.Linear(dim, dim)

    @torch.no_grad()
    def rotary(self, x, position_ids):
        inv_freq = self.inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
        positions = position_ids[:, None, :].float()
        device_type = x.device.type if isinstance(x.device.type, str) and x.device.type != "mps" else "cpu"
        with torch.autocast(device_type=device_type, enabled=False):
            freqs = (inv_freq.float() @ positions.float()).transpose(1, 2)
            emb = torch.cat((freqs, freqs), dim=-1)
            cos, sin = emb.cos(), emb.sin()
        return cos.to(dtype=x.dtype), sin.to(dtype=x.dtype)

    def forward(self, x, position_ids):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            h = self.proj(x)
            cos, sin = self.rotary(h, position_ids)
            return h * cos + h.flip(-1) * sin


class NoGradInside(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(4, 4)

    def forward(self, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = self.l(x)
            with torch.no_grad():
                z = self.l(x)
        return y + z


class InsideNoGrad(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(4, 4)

    def forward(self, x):
        with torch.no_grad():
            a = x * 2
            with torch.autocast("cpu", dtype=torch.bfloat16):
                y = self.l(a)
        return y, x + 1


def test_two_regions_match_eager_and_torch_structure():
    mod, x = TwoRegions(), torch.randn(3, 4)
    ep = _export(mod, (x,))
    got, want = run_both(mod, ep, (x,))
    assert got[1].dtype == torch.bfloat16
    assert_same(got, want, **BF16)
    assert _regions(ep.graph_module) == _torch_regions(mod, (x,)) == [
        (0, "wrap_with_autocast", ("cpu", torch.bfloat16, True, None)),
        (0, "wrap_with_autocast", ("cpu", None, False, None))]
    # Our metadata says bf16 where the program computes bf16 (torch.export says f32).
    linear = next(n for n in ep.graph_module.submod_0.graph.nodes if n.target is torch.ops.aten.linear.default)
    assert linear.meta["val"].dtype == torch.bfloat16


def test_enabled_false_block_nests_inside_enabled_block():
    mod, x = Nested(), torch.randn(2, 4)
    ep = _export(mod, (x,))
    assert _regions(ep.graph_module) == _torch_regions(mod, (x,)) == [
        (0, "wrap_with_autocast", ("cpu", torch.bfloat16, True, None)),
        (1, "wrap_with_autocast", ("cpu", None, False, None))]
    got, want = run_both(mod, ep, (x,))
    assert [t.dtype for t in got] == [torch.bfloat16, torch.float32]
    assert_same(got, want, **BF16)


def test_decorator_form_records_the_objects_settings():
    mod, x = Decorated(), torch.randn(2, 4)
    ep = _export(mod, (x,))
    assert _regions(ep.graph_module) == _torch_regions(mod, (x,)) == [
        (0, "wrap_with_autocast", ("cpu", torch.bfloat16, True, True)),
        (0, "wrap_with_autocast", ("cpu", torch.bfloat16, True, False))]
    assert_same(*run_both(mod, ep, (x,)), **BF16)


def test_region_output_is_the_models_output():
    mod, x = Bf16Output(), torch.randn(2, 4)
    ep = _export(mod, (x,))
    assert _regions(ep.graph_module) == [
        (0, "wrap_with_autocast", ("cpu", torch.bfloat16, True, True)),
        (0, "wrap_with_autocast", ("cpu", torch.float16, True, True))]
    got, want = run_both(mod, ep, (x,))
    assert [t.dtype for t in got] == [torch.bfloat16, torch.float16]
    assert [n.meta["val"].dtype for n in ep.graph.find_nodes(op="output")[0].args[0]] == \
        [torch.bfloat16, torch.float16]
    assert_same(got, want, **BF16)


def test_dynamic_batch_region_runs_on_other_sizes():
    mod = Attention()
    ep = _export(mod, (torch.randn(3, 5, 8),), dynamic_shapes=({0: Dim("b"), 1: Dim("s")},))
    assert len(_regions(ep.graph_module)) == 1
    for shape in [(2, 7, 8), (5, 3, 8)]:
        x = torch.randn(*shape)
        got, want = run_both(mod, ep, (x,))
        assert got[0].dtype == want[0].dtype == torch.bfloat16
        assert_same(got, want, **BF16)


def test_llama_style_rotary_region_with_dynamic_sequence():
    mod = Rotary()
    seq = Dim("seq", min=2, max=64)
    x, pos = torch.randn(2, 5, 8), torch.arange(5).expand(2, 5)
    ep = _export(mod, (x, pos), dynamic_shapes=({1: seq}, {1: seq}))
    regions = _regions(ep.graph_module)
    assert regions[0] == (0, "wrap_with_autocast", ("cpu", torch.bfloat16, True, None))
    assert (2, "wrap_with_autocast", ("cpu", None, False, None)) in regions
    for n in (3, 9):
        x, pos = torch.randn(2, n, 8), torch.arange(n).expand(2, n)
        got, want = run_both(mod, ep, (x, pos))
        assert got.dtype == want.dtype == torch.bfloat16
        assert_same(got, want, **BF16)


def test_mutations_inside_a_region_are_functional_outputs():
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l = torch.nn.Linear(4, 4)
            self.register_buffer("total", torch.zeros(4))

        def forward(self, x, y):
            t = x * 2
            with torch.autocast("cpu"):
                h = self.l(x)
                self.total.add_(h.float().sum(0))
                y.mul_(2)
                t.add_(h)
                h.view(-1)[0] = 5
            return t, h

    mod, args = M(), (torch.randn(2, 4), torch.randn(3))
    ep = _export(copy.deepcopy(mod), args)
    assert [s.kind.name for s in ep.graph_signature.output_specs] == \
        ["BUFFER_MUTATION", "USER_INPUT_MUTATION", "USER_OUTPUT", "USER_OUTPUT"]
    run_and_compare_state(mod, ep, args)


def test_save_load_round_trip():
    mod, x = Nested(), torch.randn(2, 4)
    ep = _export(mod, (x,))
    buffer = io.BytesIO()
    torch.export.save(ep, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    assert _regions(loaded.graph_module) == _regions(ep.graph_module)
    assert_same(loaded.module()(x), ep.module()(x))


@pytest.mark.parametrize("cls, expected", [
    (NoGradInside, [(0, "wrap_with_autocast", ("cpu", torch.bfloat16, True, None)),
                    (1, "wrap_with_set_grad_enabled", (False,))]),
    (InsideNoGrad, [(0, "wrap_with_set_grad_enabled", (False,)),
                    (1, "wrap_with_autocast", ("cpu", torch.bfloat16, True, None))]),
])
def test_grad_regions_nest_with_autocast_regions(cls, expected):
    mod, x = cls(), torch.randn(2, 4, requires_grad=True)
    ep = _export(mod, (x,))
    assert _regions(ep.graph_module) == expected
    got, want = run_both(mod, ep, (x,))
    for g, w in zip(*(torch.utils._pytree.tree_leaves(v) for v in (got, want))):
        assert g.requires_grad == w.requires_grad
    assert_same(got, want, **BF16)


def test_cond_inside_region_and_region_inside_cond_branch():
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l = torch.nn.Linear(4, 4)

        def forward(self, x):
            def true_fn(x):
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return (self.l(x).float(),)

            def false_fn(x):
                return (x.sin(),)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                y = self.l(x)
                (r,) = torch.cond(y.sum() > 0, lambda y: (y * 2,), lambda y: (y - 1,), (y,))
            (s,) = torch.cond(x.sum() > 0, true_fn, false_fn, (x,))
            return r, s

    mod = M()
    ep = _export(mod, (torch.randn(2, 4),))
    for x in (torch.randn(2, 4).abs(), -torch.randn(2, 4).abs()):
        got, want = run_both(mod, ep, (x,))
        assert got[0].dtype == torch.bfloat16
        assert_same(got, want, **BF16)


@pytest.mark.slow       # torch's run_decompositions takes seconds
def test_run_decompositions_inlines_regions_with_eager_dtypes():
    mod, x = Nested(), torch.randn(2, 4)
    decomposed = _export(mod, (x,)).run_decompositions()
    assert _regions(decomposed.graph_module) == []
    got, want = run_both(mod, decomposed, (x,))
    assert_same(got, want, **BF16)


def test_autocast_queries_answer_the_virtual_state():
    class M(torch.nn.Module):
        def forward(self, x):
            outside = (torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"))
            with torch.autocast("cpu", dtype=torch.float16):
                inside = (torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"),
                          torch.is_autocast_cpu_enabled())
                y = x @ x if inside[0] else x
                with torch.autocast("cpu", enabled=False):
                    off = torch.is_autocast_enabled("cpu")
            return y * (2 if off else 3), outside, inside

    mod, x = M(), torch.randn(3, 3)
    ep = _export(mod, (x,))
    got, want = run_both(mod, ep, (x,))
    assert want[1:] == ((False, torch.bfloat16), (True, torch.float16, True))
    assert got[0].dtype == torch.float16
    assert_same(got, want, **BF16)


def test_unsupported_dtype_disables_autocast_as_in_eager():
    class M(torch.nn.Module):
        def forward(self, x):
            with torch.autocast("cpu", dtype=torch.float64):
                return x @ x

    mod, x = M(), torch.randn(3, 3)
    with pytest.warns(UserWarning, match="Disabling autocast"):
        ep = _export(mod, (x,))
    assert _regions(ep.graph_module) == [(0, "wrap_with_autocast", ("cpu", torch.float64, True, None))]
    with pytest.warns(UserWarning, match="Disabling autocast"):
        got, want = run_both(mod, ep, (x,))
    assert got.dtype == torch.float32
    assert_same(got, want)


def test_export_inside_a_real_autocast_block_is_unaffected():
    mod, x = TwoRegions(), torch.randn(2, 4)
    outside = strict_tracer.export(mod, (x,))
    with torch.autocast("cpu", dtype=torch.float16):
        inside = _export(mod, (x,))
    assert str(inside.graph) == str(outside.graph)


class CudaBlocks(torch.nn.Module):
    """autocast("cuda") blocks around CPU ops, alone and inside a CPU autocast block: eager
    ignores them for CPU tensors (and disables them when no CUDA is present)."""

    def forward(self, x):
        with torch.autocast("cuda", dtype=torch.float16):
            y = x @ x
            state = (torch.is_autocast_enabled("cuda"), torch.is_autocast_enabled("cpu"))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            with torch.autocast(device_type="cuda", enabled=True):
                z = y @ x
            w = z @ y
        return y, z, w, state


@pytest.mark.skipif(torch.cuda.is_available(), reason="autocast('cuda') is refused where it is enabled")
def test_cuda_blocks_leave_cpu_ops_as_eager_runs_them():
    mod, x = CudaBlocks(), torch.randn(3, 3)
    with pytest.warns(UserWarning, match="Disabling autocast"):
        ep = _export(mod, (x,))
    assert [(depth, args[0]) for depth, _, args in _regions(ep.graph_module)] == [
        (0, "cuda"), (0, "cpu"), (1, "cuda")]
    with pytest.warns(UserWarning, match="Disabling autocast"):
        got, want = run_both(mod, ep, (x,))
    assert [t.dtype for t in want[:3]] == [torch.float32, torch.bfloat16, torch.bfloat16]
    assert want[3] == (False, False)
    assert_same(got, want, **BF16)


# ---------------------------------------------------------------- refusals
class _Xpu(torch.nn.Module):
    def forward(self, x):
        with torch.autocast("xpu"):      # enabled by eager here, though no XPU is present
            return x @ x


class _XpuDecorated(torch.nn.Module):
    def forward(self, x):
        return _on_xpu(x)


@torch.autocast("xpu", dtype=torch.bfloat16)
def _on_xpu(x):
    return x @ x


class _DirectSet(torch.nn.Module):
    def forward(self, x):
        torch.set_autocast_enabled("cpu", True)
        return x @ x


class _TensorFlag(torch.nn.Module):
    def forward(self, x):
        with torch.autocast("cpu", enabled=x.sum() > 0):
            return x @ x


class _FailsInside(torch.nn.Module):
    def forward(self, x):
        with torch.autocast("cpu"):
            y = x @ x
            if y.sum() > 0:
                return y
            return -y


class _NeverExited(torch.nn.Module):
    def forward(self, x):
        torch.autocast("cpu").__enter__()
        return x @ x


class _ExitedInBranchOnly(torch.nn.Module):
    def forward(self, x):
        def leave(x):
            torch.autocast("cpu").__enter__()
            return (x @ x,)
        return torch.cond(x.sum() > 0, leave, lambda x: (x - 1,), (x,))


@pytest.mark.parametrize("cls, category, words", [
    (_NeverExited, Category.SIDE_EFFECT, "returns inside a torch.autocast block"),
    (_ExitedInBranchOnly, Category.SIDE_EFFECT, "enters or exits a torch.autocast block"),
    (_Xpu, Category.UNSUPPORTED_NATIVE, "device_type 'xpu'"),
    (_XpuDecorated, Category.UNSUPPORTED_NATIVE, "device_type 'xpu'"),
    (_DirectSet, Category.UNSUPPORTED_NATIVE, "outside a torch.autocast block"),
    (_TensorFlag, Category.DATA_DEPENDENT_VALUE, "must be a constant"),
    (_FailsInside, Category.DATA_DEPENDENT_BRANCH, ""),
])
def test_unsupported_autocast_refuses_and_leaves_state_alone(cls, category, words):
    before = _autocast_state()
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(cls(), (torch.randn(3, 3),))
    assert _autocast_state() == before
    assert info.value.category == category
    assert words in str(info.value)
    assert info.value.hint
