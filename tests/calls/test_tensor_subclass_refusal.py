"""A tensor subclass constructed inside forward() is refused with the subclass's name and the
user's line (strict_tracer's values are plain tensors: a subclass's __torch_dispatch__ is not
run, nor is it flattened into its inner tensors as torch.export does)."""
import pytest
import torch

import strict_tracer
from strict_tracer import Category, GraphBreakError


class Pair(torch.Tensor):
    """A minimal wrapper subclass holding two tensors of one shape."""

    @staticmethod
    def __new__(cls, first, second):
        out = torch.Tensor._make_wrapper_subclass(cls, first.shape, dtype=first.dtype)
        out.first, out.second = first, second
        return out

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        unwrap = lambda which: [getattr(a, which) if isinstance(a, Pair) else a for a in args]  # noqa: E731
        return Pair(func(*unwrap("first"), **(kwargs or {})), func(*unwrap("second"), **(kwargs or {})))


class Tagged(torch.Tensor):
    pass


class MakesPair(torch.nn.Module):
    def forward(self, x):
        pair = Pair(x, x * 2)
        return (pair + 1).second


class MakesTagged(torch.nn.Module):
    def forward(self, x):
        return torch.Tensor._make_subclass(Tagged, x * 2) + 1


@pytest.mark.parametrize("mod, name", [(MakesPair(), "Pair"), (MakesTagged(), "Tagged")])
def test_subclass_construction_is_refused_at_the_users_line(mod, name):
    x = torch.randn(3)
    mod(x)      # eager runs it
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(mod, (x,))
    error = info.value
    assert error.category == Category.UNSUPPORTED_TENSOR_OP
    text = str(error)
    assert f"constructing the tensor subclass {name} inside forward() is not supported" in text
    assert "test_tensor_subclass_refusal.py" in text and "_make_" not in text.split("user stack")[0]
