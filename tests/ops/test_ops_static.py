"""Tensor ops through the oracle: each program exported and compared with eager."""
import pytest
import torch
import torch.nn.functional as F

from support.helpers import assert_same, run_both
import strict_tracer


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


X = (torch.randn(4, 6),)
IMG = (torch.randn(2, 3, 8, 8),)
PROGRAMS = {
    "arith": (lambda x: (x + 1) * 2 - x / 3 + 2 ** x - 1 / (x.abs() + 1), X),
    "reflected_and_inplace": (lambda x: (1 - x, 2 * x, x.clone().add_(1).mul_(2)), X),
    "compare": (lambda x: ((x > 0) & (x < 1), x == x, (x >= 0).float()), X),
    "reductions": (lambda x: (x.sum(), x.mean(1), x.max(), x.max(dim=0).values, x.argmin(-1),
                              x.std(0), x.logsumexp(1)), X),
    "views": (lambda x: (x.view(2, 12), x.reshape(-1), x.t(), x.permute(1, 0), x.unsqueeze(0),
                         x.flatten(), x.transpose(0, 1).contiguous(), x.T, x.expand(2, 4, 6)), X),
    "indexing": (lambda x: (x[0], x[:, 1:], x[None, ..., 2], x[1:3, ::2], x[-1, -2],
                            x[torch.tensor([0, 2])]), X),
    "setitem": (lambda x: _setitem(x.clone()), X),
    "cat_stack_split": (lambda x: (torch.cat([x, x], 1), torch.stack([x, x]), x.split(2, 1),
                                   x.chunk(3, 1), x.unbind(0)), X),
    "factories": (lambda x: (torch.zeros(3, 4), torch.ones_like(x), torch.arange(5),
                             torch.full((2,), 1.5), x.new_zeros(3), torch.eye(3),
                             torch.tensor([1.0, 2.0]) + 1), X),
    "activations": (lambda x: (F.relu(x), F.gelu(x), F.silu(x), torch.tanh(x), torch.sigmoid(x),
                               F.softmax(x, -1), F.log_softmax(x, 1), F.leaky_relu(x, 0.1)), X),
    "dtype": (lambda x: (x.to(torch.float64), x.half(), x.long(), x.type_as(x.int()), x.bool()), X),
    "matmul": (lambda x: (x @ x.t(), torch.einsum("ij,kj->ik", x, x), torch.bmm(x[None], x.t()[None])), X),
    "where_masked": (lambda x: (torch.where(x > 0, x, 0.0), x.masked_fill(x < 0, -1.0),
                                torch.clamp(x, -0.5, 0.5), x.cumsum(1), x.triu(), x.tril(-1)), X),
    "conv_pool": (lambda x: (F.conv2d(x, torch.ones(4, 3, 3, 3)), F.max_pool2d(x, 2),
                             F.avg_pool2d(x, 2), F.adaptive_avg_pool2d(x, 1),
                             F.interpolate(x, scale_factor=2)), IMG),
    "norms": (lambda x: (F.layer_norm(x, (8,)), F.group_norm(x, 3), F.batch_norm(
        x, torch.zeros(3), torch.ones(3), training=False), F.normalize(x, dim=1)), IMG),
    "python_on_shapes": (lambda x: x.reshape(x.shape[0] * x.shape[1], -1)[: len(x)] * x.dim(), X),
    "iteration": (lambda x: sum(row * i for i, row in enumerate(x)), X),
    "no_grad": (lambda x: _no_grad(x), X),
}


def _setitem(x):
    x[0] = 1.0
    x[:, 2] = x[:, 3]
    x[x > 1.5] = 0.0
    return x


def _no_grad(x):
    with torch.no_grad():
        y = x * 2
    return y + 1


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_op_program_matches_eager(name):
    fn, args = PROGRAMS[name]
    mod = Fn(fn)
    ep = strict_tracer.export(mod, args)
    got, want = run_both(mod, ep, args)
    assert_same(got, want)


def test_templates_are_reused_across_identical_calls():
    from strict_tracer import ops
    mod = Fn(lambda x: [torch.sin(x + i) for i in range(20)])
    strict_tracer.export(mod, X)
    size = ops.cache_size()
    strict_tracer.export(mod, X)
    assert ops.cache_size() == size
