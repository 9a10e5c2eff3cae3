"""NumPy on traced tensors: `x.numpy()`, NumPy functions and array methods map onto ATen ops
(NumPy's dtype rules kept), `torch.from_numpy`/`as_tensor` give the tensor back; anything the
table does not map is refused with the NumPy call named. Compared with eager, and with
torch.export strict (Dynamo's NumPy mapping) where it exports the case."""
from __future__ import annotations

import pytest
import torch

import strict_tracer
from support.helpers import assert_same

np = pytest.importorskip("numpy")


class Wraps(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x, y):
        return self.fn(x, y)


CASES = {
    "mean_axis": lambda x, y: torch.from_numpy(np.mean(x.numpy(), 1)),
    "ufuncs": lambda x, y: torch.as_tensor(np.exp(x.numpy()) + np.sqrt(np.abs(y.numpy()))),
    "methods": lambda x, y: torch.from_numpy(x.numpy().reshape(3, 2).sum(0) * 2.0),
    "int_true_divide": lambda x, y: torch.from_numpy((x > 0).long().numpy() / 2),
    "int_mean": lambda x, y: torch.as_tensor(np.mean((y > 0).long().numpy())),
    "concatenate": lambda x, y: torch.tensor(np.concatenate([x.numpy(), y.numpy()], axis=0)),
    "ones_like_where": lambda x, y: torch.from_numpy(
        np.where(x.numpy() > 0, np.ones_like(x.numpy()), y.numpy())),
    "transpose_matmul": lambda x, y: torch.from_numpy(x.numpy().T @ y.numpy()),
    "astype_argmax": lambda x, y: torch.from_numpy(np.argmax(x.numpy().astype(np.float64), 1)),
    "plain_constants": lambda x, y: x * float(np.finfo(np.float32).eps * 1e6)
    + np.iinfo(np.int8).max + float(np.dtype(np.float16).itemsize),
}

# torch.export strict divides integer arrays in float32; NumPy (eager) gives float64.
TORCH_DIFFERS_FROM_EAGER = {"int_true_divide"}


@pytest.mark.parametrize("name", list(CASES))
def test_numpy_on_traced_tensors_matches_eager(name):
    model = Wraps(CASES[name])
    args = (torch.randn(2, 3), torch.randn(2, 3))
    ep = strict_tracer.export(model, args)
    try:
        reference = torch.export.export(model, args, strict=True).module()
    except Exception:  # noqa: BLE001 - torch.export strict does not map every case
        reference = None
    for fresh in (args, (torch.randn(2, 3), torch.randn(2, 3))):
        assert_same(ep.module()(*fresh), model(*fresh))
        if reference is not None and name not in TORCH_DIFFERS_FROM_EAGER:
            assert_same(ep.module()(*fresh), reference(*fresh))


def test_unmapped_numpy_call_is_refused_naming_it():
    model = Wraps(lambda x, y: torch.from_numpy(np.linalg.svd(x.numpy())[0]))
    with pytest.raises(strict_tracer.GraphBreakError, match=r"NumPy call np\.svd"):
        strict_tracer.export(model, (torch.randn(2, 3), torch.randn(2, 3)))


def test_numpy_of_a_tensor_requiring_grad_raises_as_eager():
    class UsesWeight(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(3))

        def forward(self, x):
            return torch.from_numpy(self.w.numpy()) + x

    with pytest.raises(RuntimeError, match="requires grad"):
        strict_tracer.export(UsesWeight(), (torch.randn(3),))
