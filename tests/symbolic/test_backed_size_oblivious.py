"""torch.fx.experimental._config.backed_size_oblivious=True: an example size of 1 on a dynamic
dim is not specialized. Its symbol keeps 1 as its hint (guards are decided there) and is
size-like, so "is this size 1?" questions torch asks size-obliviously (broadcasting) assume the
general case without a guard. Every program either matches eager at sizes 1, 2 and 7 or is
refused; a program whose result depends on the size being 1 is refused, never wrong."""
import pytest
import torch
import torch.fx.experimental._config as fx_config
from torch.export import Dim

import strict_tracer
from strict_tracer.errors import ConstraintViolationError
from support.helpers import CallFn


@pytest.fixture
def oblivious():
    with fx_config.patch(backed_size_oblivious=True):
        yield


class BiasedBatchMatmul(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(4, 5, 6))
        self.bias = torch.nn.Parameter(torch.randn(4, 1, 6))

    def forward(self, x):
        return torch.baddbmm(self.bias, x, self.weight)


class RepeatRange(torch.nn.Module):
    def forward(self, values, counts):
        return torch.repeat_interleave(torch.arange(values.shape[0]), counts)


def test_an_example_size_of_one_stays_dynamic(oblivious):
    mod = BiasedBatchMatmul()
    ep = strict_tracer.export(mod, (torch.randn(4, 1, 5),), dynamic_shapes=({1: Dim("rows")},))
    for rows in (1, 2, 7):
        x = torch.randn(4, rows, 5)
        torch.testing.assert_close(ep.module()(x), mod(x))


def test_shared_dim_with_a_data_dependent_output(oblivious):
    mod = RepeatRange()
    dim = Dim("n")
    ep = strict_tracer.export(mod, (torch.randint(0, 4, (1, 3)), torch.tensor([3])),
                              dynamic_shapes=({0: dim}, {0: dim}))
    for n in (1, 2, 5):
        args = (torch.randint(0, 4, (n, 3)), torch.randint(0, 4, (n,)))
        torch.testing.assert_close(ep.module()(*args), mod(*args))


def test_without_the_config_an_example_of_one_is_a_violation():
    with pytest.raises(ConstraintViolationError, match="specialized it to be a constant"):
        strict_tracer.export(BiasedBatchMatmul(), (torch.randn(4, 1, 5),),
                             dynamic_shapes=({1: Dim("rows")},))


@pytest.mark.parametrize("fn", [
    lambda x: x * 2 if x.shape[0] > 1 else x * 3,     # a branch on the size: decided at 1
    lambda x: x.squeeze(),                              # squeezing depends on the size being 1
], ids=["branch", "squeeze"])
def test_a_result_that_depends_on_the_size_being_one_is_refused(oblivious, fn):
    with pytest.raises(ConstraintViolationError):
        strict_tracer.export(CallFn(fn), (torch.randn(1, 3),), dynamic_shapes=({0: Dim("b")},))


PROGRAMS = {
    "broadcast": lambda x: x + torch.ones(1, 3),
    "expand": lambda x: x.unsqueeze(1).expand(-1, 4, -1).clone(),
    "softmax": lambda x: x.softmax(0) + x.sum(0, keepdim=True),
    "matmul": lambda x: x @ x.t(),
    "index": lambda x: x[x.shape[0] - 1] + x[0],
    "cat": lambda x: torch.cat([x, x * 2], 0)[1:],
    "centered": lambda x: (x - x.mean(0, keepdim=True)).abs(),
    "flatten_t": lambda x: x.t().contiguous().view(-1) * 2,
    "reshape": lambda x: x.reshape(3, -1).sum(0),
    "self_broadcast": lambda x: x + x[:1],
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_refused_or_right_at_every_size(oblivious, name):
    fn = PROGRAMS[name]
    try:
        ep = strict_tracer.export(CallFn(fn), (torch.randn(1, 3),), dynamic_shapes=({0: Dim("b")},))
    except ConstraintViolationError:
        return
    for n in (1, 2, 7):
        x = torch.randn(n, 3)
        torch.testing.assert_close(ep.module()(x), fn(x))
