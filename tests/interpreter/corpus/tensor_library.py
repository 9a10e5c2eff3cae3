"""Library constructs with export meaning: autograd.Function, assume_constant_result,
lru_cache'd helpers, functools.wraps decorators, typing annotations around tensor code."""
import functools
import typing

import torch
import torch._dynamo
from torch import nn

from corpus.support import tensor_program


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale=2.0):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * scale

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 2 * x * ctx.scale, None


class Shift(torch.autograd.Function):
    @staticmethod
    def forward(x, amount):
        return x + amount, x.detach() * 0

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.amount = inputs[1]
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    def backward(ctx, grad, _):
        return grad, None


@tensor_program(lambda: (torch.randn(3, 2),))
class AutogradFunctions(nn.Module):
    def forward(self, x):
        shifted, zeros = Shift.apply(x, 3)
        return Square.apply(x) + Square.apply(x, 0.5) + shifted + zeros


@tensor_program(lambda: (torch.randn(4, 2), torch.tensor(3)))
class AssumeConstantResult(nn.Module):
    @torch._dynamo.assume_constant_result
    def rows(self, n):
        return int(n.item())

    def forward(self, x, n):
        k = self.rows(n + 0)
        return x[:k] * k


@functools.lru_cache(maxsize=8)
def table(n: int) -> tuple:
    return tuple(range(n))


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        wrapper.calls += 1
        return fn(*args, **kwargs)
    wrapper.calls = 0
    return wrapper


@logged
def fused(x: torch.Tensor, y: typing.Optional[torch.Tensor] = None) -> torch.Tensor:
    return x * 2 if y is None else x * y


@tensor_program(lambda: (torch.randn(3),), torch_export="fails")    # dynamo: setattr on a function
def cached_helpers_and_decorators(x):
    idx = table(3)
    out: list[torch.Tensor] = [x[i] * v for i, v in enumerate(idx)]
    return torch.stack(out), fused(x), fused(x, x), fused.__name__ == "fused", fused.calls


class Normalizer(nn.Module):
    eps: float = 1e-5

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + self.eps) * self.weight


@tensor_program(lambda: (torch.randn(2, 5),))
class TypedModule(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = Normalizer(5)
        self.extra: dict[str, nn.Module] = {"id": nn.Identity()}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"normed": self.norm(x), "same": self.extra["id"](x)}


class _CheckpointedBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def forward(self, x, scale=1.0):
        return torch.relu(self.lin(x)) * scale


@tensor_program(lambda: (torch.randn(4, 2),), torch_export="fails")  # KeyError _checkpoint_context_fn
class ActivationCheckpoint(nn.Module):
    """checkpoint() only changes what backward saves: the forward is traced inline."""

    def __init__(self):
        super().__init__()
        self.block = _CheckpointedBlock()

    def forward(self, x):
        import torch.utils.checkpoint as ckpt
        y = ckpt.checkpoint(self.block, x, use_reentrant=False, scale=2.0)
        return ckpt.checkpoint(lambda t: t.sin() + 1, y, use_reentrant=True)
