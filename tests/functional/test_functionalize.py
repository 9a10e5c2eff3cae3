"""Functionalization: mutations become functional ops and outputs, views see writes, grad
regions survive. Every program is checked against eager (outputs, mutated inputs, buffers)
and, where torch.export captures it too, against torch's functional form."""
import copy
import io

import pytest
import torch
from torch._export.db.examples import all_examples

import strict_tracer
from support.helpers import (assert_same, aten_targets, check_export, run_and_compare_state,
                     signature_summary, torch_functional)
from strict_tracer.errors import GraphBreakError


class InputAddInPlace(torch.nn.Module):
    def forward(self, x):
        x.add_(1)
        return x, x * 2


class MaybeAliasingViews(torch.nn.Module):
    def forward(self, x):
        y = x.reshape(-1)
        z = x.contiguous()
        w = x.flatten()
        t = x.to(torch.float32)
        y.add_(1)
        return y, z, w, t


class IndexPutSplitAndInPlaceView(torch.nn.Module):
    def forward(self, x, i):
        x[i] = 0
        y = x.clone()
        y.unsqueeze_(0)
        a, b = x.split(2, dim=1)
        a.mul_(3)
        y.mul_(2)
        return x + 1, y


class ViewTakenBeforeWrite(torch.nn.Module):
    def forward(self, x):
        y = x.t()
        x.sin_()
        return y


class OutVariantAndFreshConstant(torch.nn.Module):
    def forward(self, x):
        out = torch.empty(3)
        torch.sin(x, out=out)
        c = torch.tensor([1.0, 2.0, 3.0])
        c.add_(1)
        return out + c


class MixedDtypeInPlace(torch.nn.Module):
    def forward(self, x, y):
        x.add_(y)
        return x


class ViewChains(torch.nn.Module):
    def forward(self, x):
        x[0, 1:3] += 1
        x.diagonal().mul_(2)
        a, b = x.unbind(1)[:2]
        b.zero_()
        x.as_strided((2,), (2,), 1).fill_(7)
        x.view(-1)[5] = -1.0
        x.transpose(0, 1)[2].add_(10)
        return x.sum(), a


class BufferMulAdd(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("buf", torch.ones(3))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        self.buf.mul_(2).add_(1)
        self.steps += 1
        return x + self.buf


class BufferSliceWrite(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("cache", torch.zeros(4, 3))

    def forward(self, x, pos: int = 1):
        self.cache[pos:pos + 2] = x
        view = self.cache[1:]
        self.cache[0].fill_(5)
        return view * 1


CASES = [
    ("input_add", InputAddInPlace, lambda: (torch.randn(3),)),
    ("maybe_aliasing_views", MaybeAliasingViews, lambda: (torch.randn(3, 4),)),
    ("index_put_split", IndexPutSplitAndInPlaceView, lambda: (torch.randn(4, 4), torch.tensor([0, 2]))),
    ("view_before_write", ViewTakenBeforeWrite, lambda: (torch.randn(4, 4),)),
    ("out_variant", OutVariantAndFreshConstant, lambda: (torch.randn(3),)),
    ("mixed_dtype", MixedDtypeInPlace, lambda: (torch.randn(3).half(), torch.randn(3))),
    ("view_chains", ViewChains, lambda: (torch.randn(4, 4),)),
    ("buffer_mul_add", BufferMulAdd, lambda: (torch.randn(3),)),
    ("buffer_slice_write", BufferSliceWrite, lambda: (torch.randn(2, 3),)),
]


@pytest.mark.parametrize("name,cls,make_args", CASES, ids=[c[0] for c in CASES])
def test_mutating_program_matches_eager_and_torch(name, cls, make_args):
    """Outputs, mutated inputs and buffers equal eager's over two calls; the signature (with
    its mutation outputs) equals torch.export's functional form."""
    ep = check_export(cls(), make_args(), fresh=[(make_args(), {})])
    for node in ep.graph.nodes:
        if isinstance(node.target, torch._ops.OpOverload):
            assert not node.target._schema.is_mutable, node.format_node()


def test_buffer_mutation_signature_and_ops():
    ep = strict_tracer.export(BufferMulAdd(), (torch.randn(3),))
    outputs = [(s.kind.name, s.target) for s in ep.graph_signature.output_specs]
    assert outputs == [("BUFFER_MUTATION", "buf"), ("BUFFER_MUTATION", "steps"), ("USER_OUTPUT", None)]
    assert aten_targets(ep) == ["aten.mul.Tensor", "aten.add.Tensor", "aten.add.Tensor",
                                "aten.add.Tensor"]
    assert aten_targets(ep) == aten_targets(torch_functional(BufferMulAdd(), (torch.randn(3),)))


def test_batch_norm_train_is_the_functional_variant_like_torch():
    mod = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 1), torch.nn.BatchNorm2d(3)).train()
    args = (torch.randn(4, 2, 5, 5),)
    ep = check_export(mod, args, fresh=[((torch.randn(4, 2, 5, 5),), {})])
    assert aten_targets(ep) == aten_targets(torch_functional(mod, args))


def test_view_write_ops_follow_torch():
    """A write through a slice becomes the functional op plus slice_scatter into the base."""
    class SliceMul(torch.nn.Module):
        def forward(self, x):
            x[1:3].mul_(10)
            return x.sum()

    ep = strict_tracer.export(SliceMul(), (torch.randn(4, 2),))
    assert aten_targets(ep) == ["aten.slice.Tensor", "aten.mul.Tensor",
                                "aten.slice_scatter.default", "aten.sum.default"]
    assert aten_targets(ep) == aten_targets(torch_functional(SliceMul(), (torch.randn(4, 2),)))


def test_exportdb_user_input_mutation_updates_the_callers_tensor():
    case = all_examples()["user_input_mutation"]
    ep = strict_tracer.export(case.model, case.example_args, case.example_kwargs)
    kinds = [s.kind.name for s in ep.graph_signature.output_specs]
    assert kinds == ["USER_INPUT_MUTATION", "USER_OUTPUT"]
    run_and_compare_state(case.model, ep, case.example_args, case.example_kwargs)
    assert signature_summary(ep) == signature_summary(torch_functional(case.model, case.example_args))


def test_buffer_assignment_in_forward_is_a_buffer_mutation():
    # torch.export strict drops this update (its ep.module() keeps the old buffer); we keep
    # eager's behaviour: the buffer holds the assigned value after the call.
    class Assign(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("buf", torch.ones(3))

        def forward(self, x):
            self.buf = x * 2
            return x + self.buf

    mod = Assign()
    ep = strict_tracer.export(copy.deepcopy(mod), (torch.randn(3),))
    assert [s.kind.name for s in ep.graph_signature.output_specs] == ["BUFFER_MUTATION", "USER_OUTPUT"]
    run_and_compare_state(mod, ep, (torch.randn(3),), calls=[((torch.randn(3),), {})])


_DECOMPOSE_FAST = {"view_chains", "buffer_slice_write"}


@pytest.mark.parametrize("name,cls,make_args", [
    case if case[0] in _DECOMPOSE_FAST else pytest.param(*case, marks=pytest.mark.slow)
    for case in CASES], ids=[c[0] for c in CASES])
def test_decompositions_run_on_mutating_programs(name, cls, make_args):
    args = make_args()
    ep = strict_tracer.export(cls(), args)
    run_and_compare_state(cls(), copy.deepcopy(ep).run_decompositions(), args)
    run_and_compare_state(cls(), copy.deepcopy(ep).run_decompositions({}), args)


# ---------------------------------------------------------------- grad-mode regions
class NoGradBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("buf", torch.ones(3))

    def forward(self, x):
        with torch.no_grad():
            self.buf.add_(x.detach().sum())
            y = x * 2
        z = x * 3
        torch.set_grad_enabled(False)
        w = z + 1
        torch.set_grad_enabled(True)
        return y + w + z * self.buf


def test_no_grad_regions_are_wrapped_and_gradients_match_eager():
    mod = NoGradBlock()
    x = torch.randn(3, requires_grad=True)
    ep = strict_tracer.export(copy.deepcopy(mod), (x,))
    hops = [n for n in ep.graph.nodes if n.target is torch.ops.higher_order.wrap_with_set_grad_enabled]
    assert [n.args[0] for n in hops] == [False, False]
    assert [s.kind.name for s in ep.graph_signature.output_specs] == ["BUFFER_MUTATION", "USER_OUTPUT"]
    saved = io.BytesIO()       # the regions survive torch.export.save/load (checked below)
    torch.export.save(ep, saved)
    saved.seek(0)
    eager = copy.deepcopy(mod)
    exported = ep.module()
    x1 = torch.randn(3, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    exported(x1).sum().backward()
    eager(x2).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    torch.testing.assert_close(dict(exported.named_buffers())["buf"], eager.buf)
    loaded = torch.export.load(saved)
    x3 = x1.detach().clone().requires_grad_(True)
    loaded.module()(x3).sum().backward()
    torch.testing.assert_close(x3.grad, x2.grad)


def test_enable_grad_inside_no_grad_export():
    class EnableGrad(torch.nn.Module):
        def forward(self, x):
            with torch.enable_grad():
                y = x * x
            return y, y + x

    x = torch.randn(3, requires_grad=True)
    with torch.no_grad():
        ep = strict_tracer.export(EnableGrad(), (x,))
        hops = [n for n in ep.graph.nodes if n.target is torch.ops.higher_order.wrap_with_set_grad_enabled]
        assert [n.args[0] for n in hops] == [True]
        got = ep.module()(x)
        want = EnableGrad()(x)
    assert [t.requires_grad for t in got] == [t.requires_grad for t in want] == [True, False]


# ---------------------------------------------------------------- refusals
def _refusal(mod, args):
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(mod, args)
    return info.value


def test_constant_mutation_is_refused_like_torch():
    class MutatesConstant(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.ones(3)

        def forward(self, x):
            self.c.add_(1)
            return x + self.c

    err = _refusal(MutatesConstant(), (torch.randn(3),))
    assert "constant tensor 'c'" in err.reason and "register_buffer" in err.hint
    assert err.frames[0].source == "self.c.add_(1)" and err.window


def test_in_place_view_op_on_input_is_refused():
    class UnsqueezeInput(torch.nn.Module):
        def forward(self, x):
            x.unsqueeze_(0)
            return x

    err = _refusal(UnsqueezeInput(), (torch.randn(3),))
    assert "unsqueeze_" in err.reason and "x.unsqueeze_(0)" in err.frames[0].source


def test_no_grad_write_of_a_grad_tensor_read_with_grad_is_refused():
    """An intermediate that requires grad, changed under no_grad and read with grad: the
    functional graph cannot give it eager's gradient."""
    class IntermediateUpdate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.ones(3))

        def forward(self, x):
            y = x * self.p
            with torch.no_grad():
                y.add_(1)
            return y * 2

    err = _refusal(IntermediateUpdate(), (torch.randn(3),))
    assert "no_grad" in err.reason and err.frames[0].source == "return y * 2"


def test_parameter_update_under_no_grad_read_with_grad_is_a_parameter_mutation():
    """EMA / weight clipping: as torch.export's functional form, a PARAMETER_MUTATION whose
    new value later reads see (run under no_grad, as a write into a grad leaf requires)."""
    class ParamUpdate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.ones(3))

        def forward(self, x):
            with torch.no_grad():
                self.p.mul_(0.9).add_(x.mean() * 0.1)
                self.p.clamp_(-1, 1)
            return x * self.p

    x = torch.randn(3)
    ep = strict_tracer.export(ParamUpdate(), (x,))
    kinds = [(s.kind.name, s.target) for s in ep.graph_signature.output_specs]
    assert kinds == [("PARAMETER_MUTATION", "p"), ("USER_OUTPUT", None)]
    reference = torch.export.export(ParamUpdate(), (x,), strict=True).run_decompositions()
    assert kinds == [(s.kind.name, s.target) for s in reference.graph_signature.output_specs]
    program, eager = ep.module(), ParamUpdate()
    with torch.no_grad():
        for _ in range(3):
            assert_same(program(x), eager(x))
        assert_same(program.p, eager.p)


def test_parameter_update_under_no_grad_is_a_parameter_mutation():
    class ParamUpdateOnly(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.ones(3))

        def forward(self, x):
            with torch.no_grad():
                self.p.mul_(0.5)
            return x + 1

    mod = ParamUpdateOnly()
    ep = strict_tracer.export(copy.deepcopy(mod), (torch.randn(3),))
    assert [s.kind.name for s in ep.graph_signature.output_specs] == ["PARAMETER_MUTATION", "USER_OUTPUT"]
    assert signature_summary(ep) == signature_summary(torch_functional(mod, (torch.randn(3),)))
    # ep.module() writes the new value back with copy_ in the caller's grad mode, which a leaf
    # parameter only allows under no_grad (torch's functional form behaves the same).
    with torch.no_grad():
        run_and_compare_state(mod, ep, (torch.randn(3),))


# ---------------------------------------------------------------- hidden writes, dynamic shapes
def test_instance_norm_running_stats_are_found_by_decomposition():
    # instance_norm's schema looks functional; its decomposition writes the running stats.
    mod = torch.nn.InstanceNorm1d(4, track_running_stats=True).train()
    args = (torch.randn(3, 4, 5),)
    ep = check_export(mod, args, fresh=[((torch.randn(3, 4, 5),), {})], compare_torch=False)
    assert [(s.kind.name, s.target) for s in ep.graph_signature.output_specs] == [
        ("BUFFER_MUTATION", "running_mean"), ("BUFFER_MUTATION", "running_var"), ("USER_OUTPUT", None)]


class DynamicWrites(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = torch.nn.BatchNorm1d(4)

    def forward(self, x):
        x.add_(1)
        x[1:3].mul_(10)
        x[:, 0] = 0.5
        return self.bn(x.t().contiguous().t())


def test_mutations_with_dynamic_shapes():
    batch = torch.export.Dim("batch", min=3, max=64)
    mod = DynamicWrites().train()
    ep = strict_tracer.export(copy.deepcopy(mod), (torch.randn(8, 4),),
                              dynamic_shapes={"x": {0: batch}})
    assert [s.kind.name for s in ep.graph_signature.output_specs].count("BUFFER_MUTATION") == 3
    run_and_compare_state(mod, ep, (torch.randn(8, 4),),
                          calls=[((torch.randn(5, 4),), {}), ((torch.randn(17, 4),), {})])


def test_writing_through_a_dynamic_reshape_is_refused():
    class ReshapeWrite(torch.nn.Module):
        def forward(self, x):
            y = x.reshape(-1)
            y.add_(1)
            return y

    batch = torch.export.Dim("batch", min=2, max=64)
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(ReshapeWrite(), (torch.randn(8, 4),), dynamic_shapes={"x": {0: batch}})
    assert "depends on the sizes" in info.value.reason and info.value.frames[0].source == "y.add_(1)"
    # With static shapes the reshape is a view (torch decides by strides), and the write is exact.
    check_export(ReshapeWrite(), (torch.randn(8, 4),), compare_torch=False)


class EvalDropoutThenInputWrite(torch.nn.Module):
    """F.dropout in eval mode returns its input itself: the later write shows through v."""

    def forward(self, x):
        v = torch.nn.functional.dropout(x, 0.5, training=False)
        x.view(-1)[:3].fill_(0.0)
        return v * 1


class ZeroDropoutWrittenThrough(torch.nn.Module):
    """Dropout with p == 0 returns its input: writing the result writes y."""

    def forward(self, x):
        y = x * 1
        v = torch.nn.functional.dropout(y, 0.0, training=True)
        v.add_(1)
        return y, v


@pytest.mark.parametrize("cls", [EvalDropoutThenInputWrite, ZeroDropoutWrittenThrough])
def test_identity_dropout_aliases_its_input_like_eager(cls):
    check_export(cls(), (torch.randn(4, 6),), fresh=[((torch.randn(4, 6),), {})],
                 compare_torch=False)


def test_identity_dropout_alias_with_dynamic_shapes():
    model = EvalDropoutThenInputWrite()
    ep = strict_tracer.export(model, (torch.randn(4, 6),),
                              dynamic_shapes={"x": (torch.export.Dim.AUTO, torch.export.Dim.AUTO)})
    run_and_compare_state(model, ep, (torch.randn(5, 7),), {}, [])


def test_conversions_with_dynamic_shapes_alias_or_copy_like_eager():
    # Whether `to` returns its input depends on dtype/device/layout only: with dynamic sizes it
    # still becomes its input (no-op conversion, writes reach x) or a _to_copy (writes do not).
    class Conversions(torch.nn.Module):
        def forward(self, x):
            same = x.to(torch.float32)
            other = x.to(torch.float64)
            same.add_(1)
            other.mul_(2)
            return same * 3, other

    batch = torch.export.Dim("batch", min=2, max=64)
    mod = Conversions()
    ep = strict_tracer.export(copy.deepcopy(mod), (torch.randn(8, 4),), dynamic_shapes={"x": {0: batch}})
    targets = aten_targets(ep)
    assert "aten._to_copy.default" in targets and not any(t.startswith("aten.to.") for t in targets)
    assert [s.kind.name for s in ep.graph_signature.output_specs][0] == "USER_INPUT_MUTATION"
    run_and_compare_state(mod, ep, (torch.randn(8, 4),), calls=[((torch.randn(3, 4),), {})])


class TrainBatchNorms(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = torch.nn.BatchNorm1d(6)
        self.bn2 = torch.nn.BatchNorm2d(3)

    def forward(self, x, y):
        return self.bn(torch.relu(x)), self.bn2(y) + 1


def test_train_batch_norm_with_every_dim_auto():
    # Dim.AUTO on the channel dims: the weights pin them to 6 and 3 while tracing; the
    # decomposition check and the running-stat writes must see the pinned sizes (both were
    # refused: "depends on the dynamic sizes", "an out= op resizes a tensor").
    model = TrainBatchNorms().train()
    args = (torch.randn(4, 6), torch.randn(4, 3, 5, 5))
    A = torch.export.Dim.AUTO
    ep = strict_tracer.export(copy.deepcopy(model), args,
                              dynamic_shapes={"x": (A, A), "y": (A, A, A, A)})
    assert len(ep.range_constraints) == 4       # batch of x; batch, height, width of y
    run_and_compare_state(model, ep, args, {},
                          [((torch.randn(7, 6), torch.randn(3, 3, 4, 6)), {})])


class ContiguousThenWrite(torch.nn.Module):
    """x.t().contiguous() copies for every size >= 2 (so the write to x does not show in y);
    aten.contiguous of a contiguous x is x itself (so it does)."""

    def forward(self, x):
        y = x.t().contiguous()
        z = torch.ops.aten.contiguous.default(x * 1)
        w = z.view(-1)
        x.mul_(2)
        z.add_(1)
        return y + 1, w * 1


def test_contiguous_of_a_dynamic_tensor_read_after_a_write():
    # Was refused ("whether it shares memory depends on the sizes"): the engine decides the
    # contiguity for every size the program accepts.
    model = ContiguousThenWrite()
    A = torch.export.Dim.AUTO
    ep = strict_tracer.export(copy.deepcopy(model), (torch.randn(4, 6),),
                              dynamic_shapes={"x": (A, A)})
    run_and_compare_state(model, ep, (torch.randn(4, 6),), {},
                          [((torch.randn(3, 9),), {}), ((torch.randn(7, 2),), {})])


class WritesReadInsideArgumentLists(torch.nn.Module):
    """Later nodes read a written tensor inside argument lists, next to unwritten ones and
    twice in one list, and as the written tensor's views: each must read the new value (the
    pass reassigns only arguments whose nodes changed)."""

    def forward(self, x, y):
        before = torch.cat([y, x, y])          # read before the write: the old value
        v = x[1:]
        x.mul_(2)
        joined = torch.cat([y, x, x])
        stacked = torch.stack((v, y[1:]))
        picked = torch.where(y > 0, x, y)
        return before, joined, stacked, picked, torch.cat([y, y])


def test_arguments_read_the_values_written_before_them():
    args = (torch.randn(4), torch.randn(4))
    ep = check_export(WritesReadInsideArgumentLists(), args,
                      fresh=[((torch.randn(4), torch.randn(4)), {})])
    assert not [t for t in aten_targets(ep) if ".mul_." in t or ".copy_." in t]
    assert "aten.mul.Tensor" in aten_targets(ep)


class _FullRemap(strict_tracer.functional.rewrite.Functionalizer):
    """What `_remap_in_place` replaced: every node's arguments rebuilt from current values."""

    def _remap_in_place(self, node):
        args, kwargs = self._arg(node.args, True), self._arg(node.kwargs, True)
        if args is not node.args:
            node.args = args
        if kwargs is not node.kwargs:
            node.kwargs = kwargs


def _program_text(ep) -> str:
    return "\n".join([ep.graph_module.print_readable(print_output=False),
                      str(ep.graph_signature), str(ep.range_constraints)])


@pytest.mark.parametrize("name,cls,make_args", CASES + [
    ("dynamic_writes", DynamicWrites, lambda: (torch.randn(8, 4),)),
    ("no_grad_block", NoGradBlock, lambda: (torch.randn(3),))],
    ids=[c[0] for c in CASES] + ["dynamic_writes", "no_grad_block"])
def test_remap_reading_each_input_once_gives_the_full_remaps_program(name, cls, make_args,
                                                                    monkeypatch):
    dynamic = {"x": {0: torch.export.Dim("batch", min=3, max=64)}} \
        if cls is DynamicWrites else None
    mod = cls().train() if cls is DynamicWrites else cls()

    def export():
        torch.manual_seed(0)
        return strict_tracer.export(copy.deepcopy(mod), make_args(), dynamic_shapes=dynamic)
    ours = export()
    monkeypatch.setattr(strict_tracer.functional, "Functionalizer", _FullRemap)
    reference = export()
    assert _program_text(ours) == _program_text(reference)
