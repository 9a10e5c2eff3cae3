"""SourceFns._describe (trace/source_fns.py) remembers what names each callee per trace; the
names, targets and torch_fn it gives must be the ones the per-call code it replaced gives,
kept here, over a sequence of calls that repeats callees and shadows builtins."""
from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch.fx.graph import _Namespace

from strict_tracer.trace.source_fns import _OPERATOR_METHODS, SourceFns, _is_tensor_method


class _OldSourceFns:
    def __init__(self) -> None:
        self._names = _Namespace()
        self._counts: dict = {}

    def describe(self, fn):
        method = _OPERATOR_METHODS.get(fn)
        torch_fn = getattr(torch.Tensor, method) if method is not None else fn
        base = getattr(fn, "__name__", None) or type(fn).__name__
        target = base if _is_tensor_method(fn) else fn
        fn_name = getattr(torch_fn, "__name__", base)
        count = self._counts.get(torch_fn, 0) + 1
        self._counts[torch_fn] = count
        name = self._names.create_name(base, None)
        return name, target, (f"{fn_name}_{count}", f"{type(torch_fn).__name__}.{fn_name}")


class _Callable:          # no __name__: named by its type
    def __call__(self, x):
        return x


def test_describe_names_calls_as_the_per_call_code_did():
    other = _Callable()
    calls = [operator.add, torch.Tensor.add, operator.add, torch.matmul, F.relu, torch.relu,
             torch.Tensor.view, torch.Tensor.sum, torch.sum, torch.Tensor.view, operator.iadd,
             torch.Tensor.add_, torch.Tensor.__getitem__, operator.getitem, torch.ops.aten.add.Tensor,
             F.linear, torch.Tensor.sum, other, _Callable(), other, operator.add, torch.tanh, F.relu,
             torch.Tensor.add, torch.ops.aten.add.Tensor] * 3
    new, old = SourceFns(), _OldSourceFns()
    got = [new._describe(fn) for fn in calls]
    expected = [old.describe(fn) for fn in calls]
    assert got == expected
    assert len({name for name, _, _ in got}) == len(got)        # FX names stay unique


class _Named:
    def __init__(self, name: str) -> None:
        self.__name__ = name

    def __call__(self, x):
        return x


def test_callees_dropped_by_the_program_keep_their_own_names():
    """A callee the program drops can not hand its id to the next one while the trace
    remembers it: each of these, made and dropped in turn, is described as itself."""
    new, old = SourceFns(), _OldSourceFns()
    for i in range(40):
        fn = _Named(f"f{i}")
        assert new._describe(fn) == old.describe(fn)
        del fn
