"""Layout of views under dynamic shapes: a slice that is the whole tensor at the example sizes
(`x[:, :6]` of a width-6 x) is dense there and strided at width 7. Its strides are symbolic
(`stride(0)` is the width), and every decision made from them (contiguous() as an alias or a
copy, view(), is_contiguous()) holds for every admitted size or is a guard where torch.export
records one. Checked against eager at other sizes and against torch.export strict's guards."""
import pytest
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.testing import check_program
from test_fuzz_regressions import program


class Body(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x0):
        return self.fn(x0)


PROGRAMS = {
    # The dynamic campaign's finding (seed 2701): contiguous() of a slice of a width-6 slice.
    "contiguous_view_of_slice": lambda x0: (x0.triu()[:, :6][1:].contiguous().view(-1).sum()
                                            + x0.triu()[:, :6],),
    "stride_of_slice": lambda x0: (x0[:, :6].stride(0) * x0,),
    "is_contiguous_of_slice": lambda x0: (x0 + x0[:, :6].is_contiguous(),),
    "view_of_narrow": lambda x0: (x0.narrow(1, 0, 6).view(-1).sum() + x0,),
    "reshape_of_slice": lambda x0: (x0[:, :6].reshape(-1)[:5] * 2,),
    "stride_of_transposed_slice": lambda x0: (x0.t()[:3].stride(1) * x0[:3],),
}


def _admits(ep, x) -> bool:
    try:
        ep.module()(x.clone())
    except AssertionError as exc:       # torch's input guards (ours and torch.export's alike)
        assert "Guard failed" in str(exc) or "shape" in str(exc), exc
        return False
    except RuntimeError as exc:
        assert "Expected input" in str(exc) or "Guard failed" in str(exc), exc
        return False
    return True


@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("width", [6, 8])
def test_matches_eager_and_admits_what_torch_export_admits(name, width):
    mod = Body(PROGRAMS[name])
    example = (torch.randn(4, width),)
    spec = ({0: Dim.AUTO, 1: Dim.AUTO},)
    try:
        mod(*example)
    except RuntimeError:                # eager rejects the example: so do both exports
        with pytest.raises(Exception):
            strict_tracer.export(mod, example, dynamic_shapes=spec)
        return
    ours = strict_tracer.export(mod, example, dynamic_shapes=spec)
    theirs = torch.export.export(mod, example, dynamic_shapes=spec, strict=True)
    for batch in (2, 3, 5, 9):
        for w in (5, 6, 7, 9):
            x = torch.randn(batch, w)
            admitted = _admits(ours, x)
            # Never narrower than torch.export; wider only where torch guards that a strided
            # layout stays strided (nothing in these programs depends on it).
            assert admitted or not _admits(theirs, x), (batch, w)
            if admitted:
                for got, want in zip(ours.module()(x.clone()), mod(x.clone())):
                    if isinstance(want, torch.Tensor):
                        torch.testing.assert_close(got, want)
                    else:
                        assert got == want


@pytest.mark.parametrize("name", ["contiguous_view_of_slice", "is_contiguous_of_slice",
                                  "view_of_narrow"])
def test_pins_the_width_like_torch_export(name):
    """At example width 6, x[:, :6] is dense: contiguous(), is_contiguous() and view() of it
    are decided by that layout, which changes at width 7. torch.export pins the width to 6,
    and so do we; the batch stays dynamic in both. (torch.export also pins it where nothing
    depends on the layout, `x[:, :6].stride(0)`; we keep the width dynamic there.)"""
    mod = Body(PROGRAMS[name])
    spec = ({0: Dim.AUTO, 1: Dim.AUTO},)
    for exported in (strict_tracer.export(mod, (torch.randn(4, 6),), dynamic_shapes=spec),
                     torch.export.export(mod, (torch.randn(4, 6),), dynamic_shapes=spec)):
        shape = exported.graph_module.graph.find_nodes(op="placeholder")[0].meta["val"].shape
        assert shape[1] == 6 and not isinstance(shape[0], int)


@pytest.mark.parametrize("name", ["contiguous_view_of_slice", "is_contiguous_of_slice"])
def test_declared_dynamic_width_is_a_constraint_violation_like_torch(name):
    """torch.export specializes the width to 6 at `contiguous()` / `is_contiguous()` (the
    slice is contiguous only there): with Dim.DYNAMIC that is a constraint violation."""
    mod = Body(PROGRAMS[name])
    spec = ({0: Dim.DYNAMIC, 1: Dim.DYNAMIC},)
    with pytest.raises(Exception, match="Constraints violated"):
        torch.export.export(mod, (torch.randn(4, 6),), dynamic_shapes=spec, strict=True)
    with pytest.raises(strict_tracer.ConstraintViolationError) as info:
        strict_tracer.export(mod, (torch.randn(4, 6),), dynamic_shapes=spec)
    assert "size()[1]" in str(info.value) and "6" in str(info.value)


def test_stride_of_a_slice_is_symbolic():
    """At example width 8 the slice x[:, :6] has stride(0) == width: the graph computes it
    for every admitted width."""
    mod = Body(PROGRAMS["stride_of_slice"])
    ep = strict_tracer.export(mod, (torch.randn(4, 8),), dynamic_shapes=({0: Dim.AUTO, 1: Dim.AUTO},))
    for w in (6, 7, 9, 11):
        x = torch.randn(3, w)
        torch.testing.assert_close(ep.module()(x)[0], x * w)


BODIES = [
    "v = x0.triu()[:, :6]\nreturn (v[1:].contiguous().view(-1).sum() + v,)",
    "v = (x0 + 1)[:x0.shape[0]]\nreturn (v.contiguous().view(-1).view(x0.shape),)",
    "v = x0.clone().narrow(1, 0, 6)\nreturn (x0 * v.stride(0) + v.stride(1),)",
    "v = x0.t()[:6].t()\nreturn (v.flatten().view(x0.shape[0], -1),)",
    "v = x0.triu()[:, :6]\nreturn (x0 * len(v.view(-1)),)",
]


@pytest.mark.parametrize("body", BODIES)
def test_generated_class_matches_eager(body):
    """The generator's dense_at_example_slice statements, statically and with Dim.AUTO
    (batches 4, 7, 2, and width 7 where the export admits it)."""
    for dynamic in (False, True):
        outcome = check_program(program(body), batches=(4, 7, 2), dynamic=dynamic)
        assert outcome.exported, outcome.refusal

