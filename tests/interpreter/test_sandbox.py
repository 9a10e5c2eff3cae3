"""The sandbox: export() leaves every object that existed before it unchanged, whether the
trace succeeds or is refused half-way, and the trace itself sees its own writes."""
import contextvars
import copy

import pytest
import torch

import strict_tracer
from support.helpers import assert_same

CALLS = []
SCALE = {"value": 2.0}
MODE = contextvars.ContextVar("MODE", default="eval")


def _make_closure():
    seen = 0

    def note():
        nonlocal seen
        seen += 1
        return seen
    return note


NOTE = _make_closure()


class Child(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.steps = 0
        self.lin = torch.nn.Linear(3, 3)

    def forward(self, x):
        self.steps += 1
        return self.lin(x)


class Mutating(torch.nn.Module):
    def __init__(self, fail: bool = False):
        super().__init__()
        self.child = Child()
        self.cache = {}
        self.seen = []
        self.fail = fail
        self.register_buffer("total", torch.zeros(3))

    def forward(self, x):
        global SCALE
        CALLS.append("forward")
        SCALE["value"] *= 3
        token = MODE.set("tracing")
        n = NOTE()
        y = self.child(x) * SCALE["value"] + n
        self.cache["y"] = y
        self.seen.append(len(self.seen))
        self.child.extra = "added in forward"
        self.total = self.total + y.detach().sum(0)
        Child.class_counter = getattr(Child, "class_counter", 0) + 1
        if self.fail:
            return x if x.sum() > 0 else y       # refused: data-dependent branch
        MODE.reset(token)
        return y + self.cache["y"] + self.total, MODE.get()


def _state(mod):
    return (list(CALLS), dict(SCALE), MODE.get(), NOTE.__closure__[0].cell_contents,
            dict(mod.cache), list(mod.seen), mod.child.steps, vars(mod.child).get("extra"),
            hasattr(Child, "class_counter"), mod.total.clone(), sorted(vars(mod)),
            sorted(vars(mod.child)))


def _assert_same_state(before, after):
    for b, a in zip(before, after):
        if isinstance(b, torch.Tensor):
            torch.testing.assert_close(a, b)
        else:
            assert a == b


def test_export_restores_everything_and_matches_eager():
    mod = Mutating()
    eager = copy.deepcopy(mod)      # ep.module() updates the buffer it shares with mod
    x = torch.randn(2, 3)
    before = _state(mod)
    ep = strict_tracer.export(mod, (x,))
    _assert_same_state(before, _state(mod))
    eager_scale = SCALE["value"]
    got = ep.module()(x)
    want = eager(x)
    assert_same(got[0], want[0])
    assert got[1] == want[1] == "eval"
    assert SCALE["value"] == eager_scale * 3     # eager really ran once


def test_refused_export_restores_everything():
    mod = Mutating(fail=True)
    before = _state(mod)
    with pytest.raises(strict_tracer.GraphBreakError):
        strict_tracer.export(mod, (torch.randn(2, 3),))
    _assert_same_state(before, _state(mod))


def test_user_error_during_export_restores_everything():
    class Raises(Mutating):
        def forward(self, x):
            super().forward(x)
            raise KeyError("after mutations")

    mod = Raises()
    before = _state(mod)
    with pytest.raises(KeyError, match="after mutations"):
        strict_tracer.export(mod, (torch.randn(2, 3),))
    _assert_same_state(before, _state(mod))
