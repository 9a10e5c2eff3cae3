"""Plain keys on tensors with symbolic sizes are applied entry by entry, as their own ATen ops
(interpreter/tensors/symbolic_indexing.py), instead of through torch's indexing run
symbolically by the oracle. Both ways must give the same program: the same ATen calls with
the same arguments, the same input ranges, and eager's results on inputs of other sizes."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from torch.export import Dim

import strict_tracer
from strict_tracer.interpreter.tensors import symbolic_indexing
from strict_tracer.testing import check_program, programs
from support.helpers import CallFn
from support.two_ways import assert_same_program, export_or_violation, symbolic_probes

A = Dim.AUTO
_IDX = [0, 2]
_IDX2 = [[1], [0], [3]]


def _key(key):
    """`x[key]`, with index tensors made in forward from the lists above."""
    def fn(x):
        made = tuple(torch.tensor(k) if type(k) is list else k for k in key) \
            if type(key) is tuple else (torch.tensor(key) if type(key) is list else key)
        return x[made] * 2
    return fn


KEYS = {
    "int": 0, "negative_int": -1, "single_slice": slice(1, 3), "whole_single_slice": slice(None),
    "ellipsis": Ellipsis, "none": None, "tensor": _IDX,
    "int_on_dim1": (slice(None), 2), "negative_on_dim1": (slice(None), -2),
    "none_between": (slice(None), None, 1), "ellipsis_none": (Ellipsis, None),
    "none_ellipsis_int": (None, Ellipsis, 0), "stepped": (slice(None), slice(1, 4), slice(None, None, 2)),
    "open_ends": (slice(2, None), slice(None), slice(None, -1)), "whole_slices": (slice(None),) * 3,
    "stop_beyond_size": (slice(None), slice(None, 100)), "empty_tuple": (),
    "tensor_on_dim1": (slice(None), _IDX), "tensors_around_slice": (_IDX, slice(None), _IDX),
    "ellipsis_tensor": (Ellipsis, _IDX), "tensor_none_int": (_IDX, None, 0),
    "none_2d_tensor": (None, _IDX2), "tensor_int": (_IDX, 0), "int_tensor": (1, _IDX),
    "two_ellipses": (Ellipsis, 0, Ellipsis),     # torch admits it; left to its own indexing
}
SPECS = {
    "auto": {"x": (A, A, A)},
    "bounded": {"x": (Dim("a", max=64), Dim("b", max=64), Dim("c", max=64))},
    "mixed": {"x": (Dim.STATIC, A, Dim("c", min=4, max=32))},
}


_TABLE = torch.arange(4 * 20 * 30).view(4, 20, 30).float()


def _symbolic_bounds(x):
    """Slices whose bounds are sizes, of x and of a static tensor."""
    n = x.shape[-1]
    window = _TABLE[:, x.shape[1] - 2:x.shape[1], :n]
    return x[:, : x.shape[1] - 1, n // 2:] * 2 + x[None, :1, 1:n, :n - 1].sum() + window.sum()


def _export_both(fn, x, spec, monkeypatch):
    entrywise = export_or_violation(fn, x, spec)
    with monkeypatch.context() as patch:
        patch.setattr(symbolic_indexing, "_plain_plan", lambda proxy, key: None)
        oracle = export_or_violation(fn, x, spec)
    return entrywise, oracle


@pytest.mark.parametrize("spec_name", list(SPECS))
@pytest.mark.parametrize("key_name", [*KEYS, "symbolic_bounds"])
def test_entrywise_indexing_is_torch_indexing(key_name, spec_name, monkeypatch):
    fn = _symbolic_bounds if key_name == "symbolic_bounds" else _key(KEYS[key_name])
    x = torch.randn(4, 5, 6)
    entrywise, oracle = _export_both(fn, x, SPECS[spec_name], monkeypatch)
    assert_same_program(entrywise, oracle, fn, [(4, 7, 9), (4, 5, 6), (4, 4, 11)])


def test_no_symbolic_indexing_probe_for_plain_keys(monkeypatch):
    # The point of the entry-wise route: torch's indexing never runs on symbolic fakes.
    symbolic = symbolic_probes(monkeypatch)
    strict_tracer.ops.clear_template_cache()
    strict_tracer.export(CallFn(_key((_IDX, None, slice(1, None), 0))), (torch.randn(4, 5, 6),),
                         dynamic_shapes=SPECS["auto"])
    assert "getitem" not in symbolic


@pytest.mark.parametrize("key, error", [
    ((0, 0, 0, 0), "too many indices"),         # left to torch's own indexing
    ((slice(None), 7), "out of bounds"),
    ((Ellipsis, -7), "out of bounds"),
    (9, "out of bounds"),
])
def test_keys_eager_refuses_raise_eagers_error(key, error):
    x = torch.randn(4, 5, 6)
    with pytest.raises(IndexError, match=error) as eager:
        _key(key)(x)
    with pytest.raises(IndexError) as ours:
        strict_tracer.export(CallFn(_key(key)), (x,), dynamic_shapes=SPECS["auto"])
    assert str(eager.value) in str(ours.value)


@settings(max_examples=12)
@given(programs(max_statements=2, focus="indexing_key"))
def test_generated_keys_on_a_dynamic_batch_match_eager(program):
    check_program(program, batches=(4, 7, 2), dynamic=True)
