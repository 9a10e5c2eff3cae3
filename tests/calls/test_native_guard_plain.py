"""The native-call guard's fast path: natives of builtin types on plain values run without
the profile hook (they cannot start a Python frame); anything that could still runs under it."""
import math

import pytest
import torch

import strict_tracer
from strict_tracer import GraphBreakError
from strict_tracer.interpreter.calls.guard import runs_no_python


class _Key:
    def __hash__(self):
        return hash("a")

    def __eq__(self, other):           # Python code a native dict lookup would run
        return True


@pytest.mark.parametrize("call", [
    (dict.get, ({"a": 1}, "a")), ({"a": 1}.get, ("b", 0)), (len, ([1, 2],)),
    (math.floor, (2.5,)), (str.join, (",", ["a", "b"])), ((3).__add__, (4,)),
    (int, ("7",)), (isinstance, (1, (int, float))), (tuple, (range(3),)),
])
def test_plain_natives_skip_the_hook(call):
    fn, args = call
    assert runs_no_python(fn, args, {})


@pytest.mark.parametrize("call", [
    ({_Key(): 1}.get, ("a",)),                       # the receiver holds a Python __eq__
    (dict.get, ({"a": 1}, _Key())),                  # an argument does
    (sorted, ([3, 1],)),                             # key= would be called back
    (getattr, (torch.nn.Module(), "training")),      # a user object
    (print, ("x",)),                                 # writes through Python file objects
    (math.floor, (torch.tensor(2.5),)),              # __floor__ of a non-plain value
    (list, ([[[[1]]]],)),                            # deeper than the bounded check
])
def test_natives_that_could_run_python_stay_guarded(call):
    fn, args = call
    assert not runs_no_python(fn, args, {})


class LookupWithPythonEq(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.table = {_Key(): 2}

    def forward(self, x):
        return x * self.table.get("a", 0)


def test_a_lookup_that_runs_python_eq_is_still_stopped():
    """Eager calls _Key.__eq__ from inside dict.get; the guard must still see it."""
    model = LookupWithPythonEq()
    args = (torch.randn(3),)
    try:
        ep = strict_tracer.export(model, args)
    except GraphBreakError as err:
        assert "_Key.__eq__" in str(err)
    else:                                            # interpreted instead: same value as eager
        torch.testing.assert_close(ep.module()(*args), model(*args))
