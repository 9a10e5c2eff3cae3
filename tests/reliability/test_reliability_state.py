"""State safety: whatever forward() does while it is traced, and however export() ends
(success, a refusal of every category, bad input, constraint violation, an internal error,
KeyboardInterrupt at an arbitrary bytecode), the model and the process are left exactly as
they were: parameters and buffers by value and storage identity, every __dict__ entry of
every submodule, hooks, training flags, the test module's globals and closure cells, class
attributes, RNG states, grad mode, default dtype and the other global torch flags."""
from __future__ import annotations

import contextvars
import signal
import types

import pytest
import torch
from torch.export import Dim

import strict_tracer
import strict_tracer.api as api
from strict_tracer import Category, GraphBreakError
from strict_tracer.errors import ConstraintViolationError, InternalTracerError, UserInputError
from strict_tracer.interpreter.tensors.tensor_methods import Tensors
from strict_tracer.testing.state_snapshot import assert_unchanged, snapshot

LOG: list = []
SETTINGS = {"scale": 1.0, "keep": "me"}
COUNTER = 0
MODE = contextvars.ContextVar("MODE", default="idle")


def _make_counter():
    count = 0

    def bump():
        nonlocal count
        count += 1
        return count
    return bump


BUMP = _make_counter()


def _pre_hook(module, args):
    return None


def _added_hook(module, args, output):
    return output * 2


class Inner(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(3, 3)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.flag = False

    def forward(self, x):
        self.steps += 1
        return self.proj(x).relu()


class Mutator(torch.nn.Module):
    """forward() changes everything it can reach, then calls `finish` (the failure)."""

    class_calls = 0

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 3)
        self.inner = Inner()
        self.register_buffer("running", torch.ones(3))
        self.register_buffer("scratch", torch.zeros(3), persistent=False)
        self.scale = torch.nn.Parameter(torch.full((3,), 0.5))
        self.cache: dict = {}
        self.history: list = []
        self.config = types.SimpleNamespace(depth=1, names=["a"])
        self.calls = 0
        self.to_delete = "present"
        self.lin.register_forward_pre_hook(_pre_hook)
        self.scale.grad = torch.full((3,), 7.0)

    def mutate(self, x):
        global COUNTER
        COUNTER += 1
        LOG.append("forward")
        SETTINGS["scale"] = 2.0
        SETTINGS.pop("keep", None)
        SETTINGS["added"] = True
        MODE.set("tracing")
        BUMP()
        Mutator.class_calls += 1
        self.calls += 1
        self.cache["x"] = x
        self.history.append(len(self.history))
        self.config.depth = 5
        self.config.names.append("b")
        self.new_attr = "new"
        del self.to_delete
        self.inner.flag = True
        self.inner.eval()
        self.lin.register_forward_hook(_added_hook)
        torch.set_printoptions(precision=2)
        self.scale.requires_grad_(False)
        self.running.add_(1)
        self.scratch = self.running * 2
        torch.set_grad_enabled(False)
        noise = torch.rand(3)
        return self.inner(self.lin(x)) * self.scale + noise

    def forward(self, x):
        y = self.mutate(x)
        return self.finish(x, y)

    def finish(self, x, y):
        return y + self.running


class DataDependentBranch(Mutator):
    def finish(self, x, y):
        return y if y.sum() > 0 else -y


class DataDependentValue(Mutator):
    def finish(self, x, y):
        return y * [1, 2, 3][y.argmax() % 3]


class UnsupportedNative(Mutator):
    def finish(self, x, y):
        return y + id(x)


class SideEffect(Mutator):
    def finish(self, x, y):
        self.lin.weight = y * 2
        return y


class UnsupportedBytecode(Mutator):
    def finish(self, x, y):
        exec("from math import *", {})
        return y


class UnsupportedTensorOp(Mutator):
    def finish(self, x, y):
        return y.data


class UnsupportedPython(Mutator):
    def finish(self, x, y):
        return y, object()


class ControlFlowOp(Mutator):
    def finish(self, x, y):
        return torch.cond(x.sum() > 0, lambda a: a.int(), lambda a: a.sin(), (y,))


class ProgramRaises(Mutator):
    def finish(self, x, y):
        raise ValueError("the program's own error")


class Specializes(Mutator):
    def finish(self, x, y):
        return y.reshape(4, 3)


REFUSALS = {
    Category.DATA_DEPENDENT_BRANCH: DataDependentBranch,
    Category.DATA_DEPENDENT_VALUE: DataDependentValue,
    Category.UNSUPPORTED_NATIVE: UnsupportedNative,
    Category.SIDE_EFFECT: SideEffect,
    Category.UNSUPPORTED_BYTECODE: UnsupportedBytecode,
    Category.UNSUPPORTED_TENSOR_OP: UnsupportedTensorOp,
    Category.UNSUPPORTED_PYTHON: UnsupportedPython,
    Category.CONTROL_FLOW_OP: ControlFlowOp,
}


def _classes():
    return [tuple(vars(cls).items()) for cls in (Mutator, Inner, *REFUSALS.values())]


def _module_globals():
    """Every global of this module by identity, its data (upper-case names) by contents."""
    return [tuple((name, id(value)) for name, value in globals().items()),
            tuple((name, value) for name, value in globals().items() if name.isupper())]


def _take(mod):
    return snapshot(mod, *_module_globals(), *_classes())


def _export_keeps_state(mod, expected_exc, *, args=None, **kwargs):
    args = args if args is not None else (torch.randn(4, 3),)
    before = _take(mod)
    if expected_exc is None:
        ep = strict_tracer.export(mod, args, **kwargs)
    else:
        with pytest.raises(expected_exc) as info:
            strict_tracer.export(mod, args, **kwargs)
        ep = info.value
    assert_unchanged(before, _take(mod))
    return ep


def test_success_changes_nothing():
    mod = Mutator()
    x = torch.randn(4, 3)
    ep = _export_keeps_state(mod, None, args=(x,))
    # the forward's effects on the model are in the program, not in the model
    assert sorted(ep.graph_signature.buffers_to_mutate.values()) == ["inner.steps", "running", "scratch"]
    out = ep.module()(x)
    assert out.shape == (4, 3)


def test_snapshot_notices_changes():
    """The snapshot is sharp enough to see the writes forward() makes, run eagerly."""
    mod = Mutator()
    before = _take(mod)
    mod(torch.randn(4, 3))
    with pytest.raises(AssertionError, match="export\\(\\) changed state"):
        assert_unchanged(before, _take(mod))
    torch.set_grad_enabled(True)
    torch.set_printoptions(profile="default")


@pytest.mark.parametrize("category", sorted(REFUSALS))
def test_refusal_changes_nothing(category):
    err = _export_keeps_state(REFUSALS[category](), GraphBreakError)
    assert err.category == category


def test_program_error_changes_nothing():
    _export_keeps_state(ProgramRaises(), ValueError)


def test_user_input_error_changes_nothing():
    _export_keeps_state(Mutator(), UserInputError, dynamic_shapes={"x": {0: "batch"}})


def test_constraint_violation_changes_nothing():
    _export_keeps_state(Specializes(), ConstraintViolationError,
                        dynamic_shapes={"x": {0: Dim("batch")}})


def test_internal_error_after_forward_changes_nothing(monkeypatch):
    def broken(*args, **kwargs):
        raise InternalTracerError("injected")
    monkeypatch.setattr(api, "collect_outputs", broken)
    _export_keeps_state(Mutator(), InternalTracerError)


def test_error_while_packaging_changes_nothing(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("injected in package")
    monkeypatch.setattr(api, "package", broken)
    _export_keeps_state(Mutator(), RuntimeError)


def _fail_at_tensor_op(monkeypatch, n, exc):
    original = Tensors.op
    calls = {"n": 0}

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise exc
        return original(self, *args, **kwargs)
    monkeypatch.setattr(Tensors, "op", failing)
    return calls


@pytest.mark.parametrize("n", [1, 3, 6])
def test_internal_error_mid_trace_changes_nothing(monkeypatch, n):
    calls = _fail_at_tensor_op(monkeypatch, n, InternalTracerError("injected mid-trace"))
    _export_keeps_state(Mutator(), InternalTracerError)
    assert calls["n"] == n


@pytest.mark.parametrize("n", [1, 4, 7])
def test_keyboard_interrupt_mid_trace_changes_nothing(monkeypatch, n):
    calls = _fail_at_tensor_op(monkeypatch, n, KeyboardInterrupt())
    _export_keeps_state(Mutator(), KeyboardInterrupt)
    assert calls["n"] == n


class Endless(Mutator):
    """Runs far longer than the interrupt delays (a swallowed interrupt fails the test
    instead of hanging it)."""

    def finish(self, x, y):
        for total in range(ENDLESS_ITERATIONS):
            LOG.append(total)
            SETTINGS[total % 7] = total
            self.history.append(total)
            self.config.depth = sorted([total, 3, 1], key=lambda v: -v)[0]
            BUMP()
            y = y + 1
        return y


ENDLESS_ITERATIONS = 5000      # ~1.2 s of tracing on an idle machine: well past every delay


@pytest.mark.parametrize("delay", [0.05, 0.13, 0.31])
def test_interrupt_at_an_arbitrary_point_changes_nothing(delay):
    """SIGALRM raising KeyboardInterrupt (like Ctrl-C) lands wherever the tracer happens to
    be: in a handler, in a native call under the guard, in the ops probe, in the sandbox.
    CPython ignores an interrupt that lands in a gc or weakref callback ("Exception ignored
    in ..."); then the export finishes, and the next attempt interrupts elsewhere."""
    previous = signal.signal(signal.SIGALRM, signal.default_int_handler)
    interrupted = 0
    try:
        for attempt in range(3):
            mod, x = Endless(), torch.randn(4, 3)
            before = _take(mod)
            signal.setitimer(signal.ITIMER_REAL, delay * (attempt + 1))
            try:
                strict_tracer.export(mod, (x,))
            except KeyboardInterrupt:
                interrupted += 1
            signal.setitimer(signal.ITIMER_REAL, 0)
            assert_unchanged(before, _take(mod))
            if interrupted:
                break
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert interrupted


def test_repeated_exports_of_one_model_agree():
    """Nothing the first export did is seen by the second (same program, same state)."""
    mod = Mutator()
    x = torch.randn(4, 3)
    first = strict_tracer.export(mod, (x,))
    before = _take(mod)
    second = strict_tracer.export(mod, (x,))
    assert_unchanged(before, _take(mod))
    assert first.graph_module.code == second.graph_module.code


def test_interrupt_inside_a_mode_enter_leaves_no_mode_behind(monkeypatch):
    """An interrupt landing in a context manager's __enter__ after it pushed the oracle's
    FakeTensorMode skips its __exit__; export still leaves no mode (nor grad/autocast
    change) behind, so the user's next tensor op runs for real."""
    from strict_tracer.ops.oracle import probe
    real = probe.fake_mode
    calls = {"n": 0}

    class InterruptedEnter:
        """The oracle's mode, whose first __enter__ is interrupted right after the push."""

        def __init__(self):
            self.mode = real()

        def __getattr__(self, name):
            return getattr(self.mode, name)

        def __enter__(self):
            self.mode.__enter__()
            calls["n"] += 1
            if calls["n"] == 1:
                raise KeyboardInterrupt       # after the push: __exit__ never runs
            return self.mode

        def __exit__(self, *exc):
            return self.mode.__exit__(*exc)

    monkeypatch.setattr(probe, "fake_mode", InterruptedEnter)
    _export_keeps_state(Mutator(), KeyboardInterrupt)
    assert calls["n"] == 1
    assert torch._C._len_torch_dispatch_stack() == 0
    assert torch.equal(torch.ones(2) + 1, torch.full((2,), 2.0))
