"""Builtins over tensors as eager computes them: min/max of 0-d tensors and numbers,
dict.fromkeys with a tensor value, and torch's introspection queries."""
from __future__ import annotations

import pytest
import torch

import strict_tracer
from support.helpers import assert_same


class Wraps(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, a, b):
        return self.fn(a, b)


CASES = {
    "clamped_sum": lambda a, b: min(max(a.sum(), 0), 1) * a,
    "max_of_three": lambda a, b: max(a.sum(), b.sum(), 0.5) + a,
    "min_of_list": lambda a, b: min([a.mean(), b.mean()]) * b,
    "fromkeys": lambda a, b: dict.fromkeys(["x", "y"], a)["y"] + b,
    "sum_and_abs": lambda a, b: sum([a, b, a]) + abs(a - b),
    "functorch_active": lambda a, b: a * (not torch._C._are_functorch_transforms_active()),
    "checkpoint_valid": lambda a, b: a * torch.autograd._is_checkpoint_valid(),
    "min_over_a_vector": lambda a, b: min(a) + b,
    "max_over_a_vector": lambda a, b: max(a * b) - a,
}

TORCH_REFUSES = {"max_of_three", "min_of_list"}


@pytest.mark.parametrize("name", list(CASES))
def test_builtin_matches_eager_and_torch_export(name):
    model = Wraps(CASES[name])
    args = (torch.randn(3), torch.randn(3))
    ep = strict_tracer.export(model, args)
    try:
        reference = torch.export.export(model, args, strict=True)
    except Exception:        # torch.export refuses max(a, b, c) of 0-d tensors (a data guard)
        assert name in TORCH_REFUSES
        reference = None
    for fresh in (args, (torch.randn(3) - 2, torch.randn(3) + 2)):
        assert_same(ep.module()(*fresh), model(*fresh))
        if reference is not None:
            assert_same(ep.module()(*fresh), reference.module()(*fresh))


def test_max_of_a_multi_element_tensor_keeps_eager_error():
    model = Wraps(lambda a, b: max(a, 0))
    with pytest.raises(Exception, match="ambiguous|data-dependent|branches"):
        strict_tracer.export(model, (torch.randn(3), torch.randn(3)))


KNOWN_VALUE_CASES = {
    "as_tensor_index": lambda a, b: [a, b, a + b][torch.as_tensor(2)],
    "tensor_index_arith": lambda a, b: [a, b, a + b][torch.tensor(1) + 1],
    "index_from_static_size": lambda a, b: [a, b, a - b, b * 2][torch.tensor(a.shape[0])],
    "int_of_constant": lambda a, b: sum(a * i for i in range(int(torch.tensor(3)))),
}


@pytest.mark.parametrize("name", list(KNOWN_VALUE_CASES))
def test_tensor_of_constants_is_read_like_torch_export(name):
    """A one-element tensor made from constants has one value for every input: torch.export
    reads it (FakeTensor constants) and so do we, as a Python index or int."""
    model = Wraps(KNOWN_VALUE_CASES[name])
    args = (torch.randn(3), torch.randn(3))
    ep = strict_tracer.export(model, args)
    reference = torch.export.export(model, args, strict=True).module()
    for fresh in (args, (torch.randn(3), torch.randn(3))):
        assert_same(ep.module()(*fresh), model(*fresh))
        assert_same(ep.module()(*fresh), reference(*fresh))


@pytest.mark.parametrize("fn", [
    lambda a, b: [a, b][torch.tensor(0).add_(1)],          # written in place: not folded
    lambda a, b: [a, b][(a.sum() > 0).long()],             # depends on the input
    lambda a, b: [a, b][torch.tensor([0, 1])[1]],          # two elements on the way
], ids=["mutated_constant", "data_dependent", "vector_constant"])
def test_index_by_a_tensor_not_known_is_a_data_dependent_refusal(fn):
    from torch._dynamo.exc import UserError
    with pytest.raises(UserError, match="index"):
        strict_tracer.export(Wraps(fn), (torch.randn(3), torch.randn(3)))


REFUSED_LIKE_TORCH = {
    "sorted_over_tensors": lambda a, b: sorted([a.sum(), b.sum()])[0] + a,
    "sorted_over_a_vector": lambda a, b: sorted(a)[0] + b,
    "any_over_a_vector": lambda a, b: a * any(a > 0),
    "all_over_a_list": lambda a, b: a * all([a.sum() > 0, b.sum() > 0]),
}


@pytest.mark.parametrize("name", list(REFUSED_LIKE_TORCH))
def test_data_dependent_builtins_refused_with_torch_class(name):
    """sorted/any/all decide on tensor values: torch.export strict raises Unsupported, so do we."""
    from torch._dynamo.exc import Unsupported
    model = Wraps(REFUSED_LIKE_TORCH[name])
    args = (torch.randn(3), torch.randn(3))
    model(*args)                                     # eager runs it
    with pytest.raises(Unsupported):
        torch.export.export(model, args, strict=True)
    with pytest.raises(Unsupported, match="data-dependent"):
        strict_tracer.export(model, args)


class Reads(torch.nn.Module):
    def forward(self, x, i):
        return x * int(i), x * float(i), x + int(i.long())


def test_int_and_float_of_a_tensor_read_its_value_like_item():
    """int(t)/float(t) as torch.export records them: .item() (truncated for int), valid for
    every value of t, not the example's."""
    args = (torch.randn(3), torch.tensor(2.7))
    ep = strict_tracer.export(Reads(), args)
    reference = torch.export.export(Reads(), args, strict=True)
    for value in (2.7, -2.7, 0.2, 5.0):
        fresh = (torch.randn(3), torch.tensor(value))
        assert_same(ep.module()(*fresh), Reads()(*fresh))
        assert_same(ep.module()(*fresh), reference.module()(*fresh))


def test_sequence_indexed_by_a_data_dependent_tensor_is_torch_user_error():
    """`[a, b][i]` with i an input: torch.export raises a UserError (data-dependent)."""
    from torch._dynamo.exc import UserError
    model = Wraps(lambda a, i: [a, a + 1][i])
    args = (torch.randn(3), torch.tensor(1))
    with pytest.raises(UserError):
        torch.export.export(model, args, strict=True)
    with pytest.raises(UserError, match="index"):
        strict_tracer.export(model, args)


class _Scripted(torch.nn.Module):
    def forward(self, x):
        return x.relu() + 1


class CallsScripted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = torch.jit.script(_Scripted())

    def forward(self, a, b):
        return self.inner(a) + b


@pytest.mark.parametrize("model", [
    Wraps(lambda a, b: a + a.untyped_storage().nbytes()),
    Wraps(lambda a, b: a if a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
          else b),
    CallsScripted(),
], ids=["storage_nbytes", "storage_identity", "scripted_module"])
def test_refused_like_torch_export(model):
    """torch.export strict raises Unsupported for storage queries and TorchScript modules."""
    from torch._dynamo.exc import Unsupported
    args = (torch.randn(3), torch.randn(3))
    model(*args)
    with pytest.raises(Unsupported):
        torch.export.export(model, args, strict=True)
    with pytest.raises(Unsupported):
        strict_tracer.export(model, args)
