"""NumPy functions on traced arrays beyond the core table (numpy_functions.py): each case
runs eagerly with NumPy and through the exported program at two inputs, and must give the
same values in the same dtype (NumPy's result dtype, not torch's promotion)."""
from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import strict_tracer
from support.helpers import assert_same

np = pytest.importorskip("numpy")


class Wraps(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x, y):
        return self.fn(x, y)


def _ints(t, dtype=torch.int32):
    return (t > 0).to(dtype).numpy()


CASES = {
    "log1p_expm1": lambda x, y: np.log1p(np.abs(x.numpy())) + np.expm1(y.numpy()),
    "exp_of_int32_is_float64": lambda x, y: np.exp(_ints(x)),
    "sqrt_of_int8_is_float16": lambda x, y: np.sqrt(_ints(x, torch.int8)),
    "int_times_float_is_float64": lambda x, y: _ints(x, torch.int64) * 2.5,
    "ints_and_floats": lambda x, y: (_ints(x) + 2) * 3.0 - _ints(y, torch.int64),
    "concatenate_int32_float32": lambda x, y: np.concatenate([_ints(x), y.numpy()]),
    "where_promotes_branches": lambda x, y: np.where(x.numpy() > 0, _ints(y), y.numpy()),
    "clip_of_ints": lambda x, y: np.clip(_ints(x), 0.5, 2.0),
    "arctan2_hypot": lambda x, y: np.arctan2(x.numpy(), y.numpy()) + np.hypot(x.numpy(), y.numpy()),
    "trig": lambda x, y: np.tan(x.numpy()) + np.arctan(y.numpy()) + np.sinh(x.numpy() / 4),
    "logs": lambda x, y: np.log2(np.abs(x.numpy())) + np.log10(np.abs(y.numpy())) + np.exp2(x.numpy()),
    "comparisons": lambda x, y: np.logical_and(np.greater(x.numpy(), 0), np.less_equal(y.numpy(), 0.5)),
    "operators_and_or": lambda x, y: (x.numpy() > 0) & (y.numpy() < 0) | ~(x.numpy() > 1),
    "mod_floor_divide": lambda x, y: np.mod(x.numpy(), 0.7) + np.floor_divide(y.numpy(), 0.3),
    "int_mod": lambda x, y: np.mod(_ints(x, torch.int64) - 3, 2) + np.fmod(_ints(y, torch.int64) - 3, 2),
    "round_rint": lambda x, y: np.round(x.numpy() * 100, decimals=1) + np.rint(y.numpy()),
    "nan_checks": lambda x, y: np.isfinite(np.log(x.numpy())) | np.isnan(np.log(y.numpy())),
    "fmax_fmin": lambda x, y: np.fmax(x.numpy(), y.numpy()) - np.fmin(x.numpy(), 0.0),
    "prod": lambda x, y: np.prod(x.numpy(), axis=1) + np.prod(y.numpy()),
    "prod_keepdims": lambda x, y: np.prod(x.numpy(), axis=(0, 1), keepdims=True),
    "prod_of_int32_is_int64": lambda x, y: np.prod(_ints(x) + 1, axis=0),
    "std_var": lambda x, y: np.std(x.numpy(), axis=0) + np.var(y.numpy(), ddof=1),
    "std_of_ints_is_float64": lambda x, y: np.std(_ints(x, torch.int64), axis=1),
    "median": lambda x, y: np.median(x.numpy(), axis=1),
    "median_of_ints": lambda x, y: np.median(_ints(x, torch.int64), axis=0),
    "any_all": lambda x, y: np.any(x.numpy() > 0, axis=1) & np.all(y.numpy() > -3, axis=1),
    "average": lambda x, y: np.average(x.numpy(), axis=0),
    "cumprod": lambda x, y: np.cumprod(x.numpy(), axis=1) + np.cumprod(y.numpy()).reshape(2, 3),
    "sort": lambda x, y: np.sort(x.numpy()) - np.sort(y.numpy(), axis=0),
    "flip_roll": lambda x, y: np.flip(x.numpy()) + np.roll(y.numpy(), 1, axis=1) + np.flip(x.numpy(), 1),
    "tile_repeat": lambda x, y: np.tile(x.numpy(), 2) + np.repeat(y.numpy(), 2, axis=1),
    "outer_einsum": lambda x, y: np.outer(x.numpy()[0], y.numpy()[1])[:2, :2]
    + np.einsum("ij,kj->ik", x.numpy(), y.numpy()),
    "tril_triu": lambda x, y: np.tril(x.numpy()) + np.triu(y.numpy(), k=1),
    "diff": lambda x, y: np.diff(x.numpy()) + np.diff(y.numpy(), axis=1),
    "vstack_hstack": lambda x, y: np.vstack([x.numpy(), y.numpy()]).sum(0)
    + np.hstack((x.numpy(), y.numpy())).sum(1)[0],
    "swapaxes_moveaxis": lambda x, y: np.swapaxes(x.numpy(), 0, 1) + np.moveaxis(y.numpy(), 0, -1),
    "broadcast_to_full_like": lambda x, y: np.broadcast_to(x.numpy()[0], (4, 3))
    + np.full_like(y.numpy(), 2.5)[0],
    "array_methods": lambda x, y: x.numpy().prod(1) + y.numpy().std(0).sum() + x.numpy().var()
    + x.numpy().round(1).flatten()[:2] + y.numpy().ravel()[:2],
    "array_methods_any_all": lambda x, y: (x.numpy() > 0).any(1) | (y.numpy() > 0).all(1),
    "plain_array_operand": lambda x, y: x.numpy() * np.arange(3) + np.array([1.0, 2.0, 3.0],
                                                                           dtype=np.float32),
    "numpy_scalar_operand": lambda x, y: x.numpy() * np.float32(2.0) - np.int64(3),
}


@pytest.mark.parametrize("name", list(CASES))
def test_numpy_function_matches_eager_numpy(name):
    fn = CASES[name]
    model = Wraps(lambda x, y: torch.as_tensor(fn(x, y)))
    args = (torch.randn(2, 3), torch.randn(2, 3))
    ep = strict_tracer.export(model, args)
    for fresh in (args, (torch.randn(2, 3), torch.randn(2, 3))):
        assert_same(ep.module()(*fresh), model(*fresh))


class Ranges(torch.nn.Module):
    def forward(self, x):
        n = x.shape[0]
        return (torch.from_numpy(np.arange(n)) + x,
                torch.from_numpy(np.arange(1, n) * 1.5))


def test_arange_of_a_dynamic_size_stays_dynamic():
    # min=3: casting the length n-1 arange (int64 -> float64 for `* 1.5`) guards n-1 >= 2, in
    # torch.export too
    ep = strict_tracer.export(Ranges(), (torch.randn(6),), dynamic_shapes=({0: Dim("n", min=3)},))
    for n in (6, 9, 3):
        x = torch.randn(n)
        assert_same(ep.module()(x), Ranges()(x))


def test_unmapped_keyword_is_refused_naming_the_call():
    model = Wraps(lambda x, y: torch.from_numpy(np.average(x.numpy(), weights=y.numpy())))
    with pytest.raises(strict_tracer.GraphBreakError, match=r"np\.average"):
        strict_tracer.export(model, (torch.randn(2, 3), torch.randn(2, 3)))
