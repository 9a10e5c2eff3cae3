"""What torch.export refuses in control-flow bodies, strict_tracer refuses with a located,
categorized GraphBreakError (and leaves the model untouched)."""
import pytest
import torch
from torch._higher_order_ops.map import map as torch_map
from torch._higher_order_ops.scan import scan
from torch._higher_order_ops.while_loop import while_loop

import strict_tracer
from strict_tracer import Category, GraphBreakError

STATE = {"calls": 0}
SHARED = [torch.ones(3)]


class Wrap(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.count = 0
        self.register_buffer("buf", torch.zeros(3))

    def forward(self, x):
        return self.fn(self, x)


def refusal(fn, x=None) -> GraphBreakError:
    mod = Wrap(fn)
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(mod, (torch.randn(3) if x is None else x,))
    err = info.value
    assert err.location.startswith(__file__), err.location     # points at this file's code
    assert err.hint
    assert mod.count == 0 and torch.equal(mod.buf, torch.zeros(3))
    return err


def cond(pred, t, f, ops):
    return torch.cond(pred, t, f, ops)


# ---------------------------------------------------------------- mutation
def test_mutating_an_operand_in_a_branch():
    def fn(self, x):
        def true_fn(a):
            a.add_(1)
            return a.sin()

        return cond(x.sum() > 0, true_fn, lambda a: a.cos(), (x,))

    err = refusal(fn)
    assert err.category == Category.SIDE_EFFECT
    assert "true branch of torch.cond mutates its input" in err.reason and "add_" in err.reason


def test_mutating_a_closed_over_tensor_through_a_view():
    def fn(self, x):
        y = x * 2

        def true_fn(a):
            y.view(-1)[0:1].mul_(2)
            return a.sin()

        return cond(x.sum() > 0, true_fn, lambda a: a.cos(), (x,))

    assert "mutates its input" in refusal(fn).reason


def test_mutating_a_buffer_in_a_branch():
    def fn(self, x):
        def false_fn(a):
            self.buf.add_(a)
            return a.cos()

        return cond(x.sum() > 0, lambda a: a.sin(), false_fn, (x,))

    err = refusal(fn)
    assert "false branch" in err.reason and "'b_buf'" in err.reason


def test_mutating_under_no_grad_is_refused_too():
    # torch.export accepts input mutation in a branch under no_grad; strict_tracer refuses it.
    def fn(self, x):
        def true_fn(a):
            a.add_(1)
            return a.sin()

        with torch.no_grad():
            return cond(x.sum() > 0, true_fn, lambda a: a.cos(), (x,))

    assert refusal(fn).category == Category.SIDE_EFFECT


def test_mutating_the_slice_in_map():
    def fn(self, x):
        def body(r):
            r.add_(1)
            return r.sin()

        return torch_map(body, x)

    err = refusal(fn, torch.randn(4, 3))
    assert "body of map mutates its input 0" in err.reason


def test_mutating_a_carry_in_while_loop():
    def fn(self, x):
        def body(a):
            a.sub_(1)
            return (a.clone(),)

        return while_loop(lambda a: a.sum() > 0, body, (x,))

    assert "body_fn of while_loop mutates" in refusal(fn).reason


# ---------------------------------------------------------------- Python side effects
def test_appending_to_an_outer_list():
    def fn(self, x):
        seen = []

        def true_fn(a):
            seen.append(a)
            return a.sin()

        return cond(x.sum() > 0, true_fn, lambda a: a.cos(), (x,))

    err = refusal(fn)
    assert err.category == Category.SIDE_EFFECT and "writes contents of list" in err.reason


def test_setting_an_attribute_of_self():
    def fn(self, x):
        def true_fn(a):
            self.count = 1
            return a.sin()

        return cond(x.sum() > 0, true_fn, lambda a: a.cos(), (x,))

    assert "attribute 'count'" in refusal(fn).reason


def test_storing_a_tensor_on_self():
    def fn(self, x):
        def true_fn(a):
            self.cache = a * 2
            return a.sin()

        return cond(x.sum() > 0, true_fn, lambda a: a.cos(), (x,))

    assert "attribute 'cache'" in refusal(fn).reason


def test_assigning_a_nonlocal():
    def fn(self, x):
        total = 0

        def true_fn(a):
            nonlocal total
            total = total + 1
            return a.sin()

        return cond(x.sum() > 0, true_fn, lambda a: a.cos(), (x,))

    assert "closure variable" in refusal(fn).reason


def test_writing_a_global():
    def fn(self, x):
        def true_fn(a):
            STATE["calls"] += 1
            return a.sin()

        return cond(x.sum() > 0, true_fn, lambda a: a.cos(), (x,))

    assert "dict object" in refusal(fn).reason
    assert STATE["calls"] == 0


def test_leaving_grad_mode_changed():
    def fn(self, x):
        def true_fn(a):
            torch.set_grad_enabled(False)
            return a.sin()

        return cond(x.sum() > 0, true_fn, lambda a: a.cos(), (x,))

    assert "grad mode" in refusal(fn).reason
    assert torch.is_grad_enabled()


def test_local_containers_and_intermediate_in_place_ops_are_fine():
    def fn(self, x):
        def true_fn(a):
            parts = []
            parts.append(a * 2)
            out = parts[0]
            out.add_(1)
            return out

        return cond(x.sum() > 0, true_fn, lambda a: a.cos(), (x,))

    mod = Wrap(fn)
    ep = strict_tracer.export(mod, (torch.ones(3),))
    torch.testing.assert_close(ep.module()(torch.ones(3)), torch.full((3,), 3.0))
    torch.testing.assert_close(ep.module()(-torch.ones(3)), torch.full((3,), -1.0).cos())


# ---------------------------------------------------------------- aliasing
@pytest.mark.parametrize("branch,expected", [
    (lambda a: a, "returns one of its inputs"),
    (lambda a: a.view(-1), "returns one of its inputs"),
    (lambda a: SHARED[0], "returns one of its inputs"),
    (lambda a: a.detach(), "returns one of its inputs"),
], ids=["input", "view", "global", "detach"])
def test_returning_an_input_or_a_view_of_it(branch, expected):
    def fn(self, x):
        return cond(x.sum() > 0, branch, lambda a: a.sin(), (x,))

    err = refusal(fn)
    assert err.category == Category.CONTROL_FLOW_OP and expected in err.reason


def test_returning_a_closed_over_tensor():
    def fn(self, x):
        y = x * 2
        return cond(x.sum() > 0, lambda a: y, lambda a: a.sin(), (x,))

    assert "returns one of its inputs" in refusal(fn).reason


def test_returning_one_tensor_twice():
    def fn(self, x):
        def true_fn(a):
            b = a.sin()
            return b, b.view(-1)

        return cond(x.sum() > 0, true_fn, lambda a: (a.sin(), a.cos()), (x,))

    assert "returns the same tensor" in refusal(fn).reason


def test_a_dtype_preserving_to_is_not_an_alias_but_a_converting_one_is_new():
    def fn(self, x):
        return cond(x.sum() > 0, lambda a: a.to(torch.float64).float(), lambda a: a.cos(), (x,))

    ep = strict_tracer.export(Wrap(fn), (torch.ones(3),))
    torch.testing.assert_close(ep.module()(torch.ones(3)), torch.ones(3))

    def aliasing(self, x):
        return cond(x.sum() > 0, lambda a: a.to(torch.float32), lambda a: a.cos(), (x,))

    assert "returns one of its inputs" in refusal(aliasing).reason


# ---------------------------------------------------------------- branch outputs
@pytest.mark.parametrize("true_fn,false_fn,expected", [
    (lambda a: a.int(), lambda a: a.sin(), "dtype torch.int32 vs torch.float32"),
    (lambda a: a.sum(0, keepdim=True), lambda a: a.sin(), "shape (1,) vs (3,)"),
    (lambda a: (a.sin(), a.cos()), lambda a: a.sin(), "different structures"),
    (lambda a: (a.sin(), None), lambda a: (a.cos(), None), "must return tensors or ints"),
], ids=["dtype", "shape", "structure", "none"])
def test_branches_must_agree(true_fn, false_fn, expected):
    def fn(self, x):
        return cond(x.sum() > 0, true_fn, false_fn, (x,))

    err = refusal(fn)
    assert err.category == Category.CONTROL_FLOW_OP and expected in err.reason, err.reason


# ---------------------------------------------------------------- arguments
@pytest.mark.parametrize("make_call,expected", [
    (lambda x: torch.cond(x > 0, lambda a: a.sin(), lambda a: a.cos(), (x,)), "one-element predicate"),
    (lambda x: torch.cond("yes", lambda a: a.sin(), lambda a: a.cos(), (x,)), "bool or a one-element"),
    (lambda x: torch.cond(x.sum() > 0, lambda a: a.sin(), lambda a: a.cos(), x), "tuple or list"),
    (lambda x: torch.cond(x.sum() > 0, lambda a, b: a.sin(), lambda a, b: a.cos(), (x, object())),
     "only contain tensors"),
    (lambda x: torch_map(lambda a: a.sin(), x.sum()), "0-d tensor"),
    (lambda x: while_loop(lambda a: True, lambda a: (a + 1,), (x,)), "infinite loop"),
    (lambda x: while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a + 1), (0, x)),
     "data-dependent value"),
    (lambda x: while_loop(lambda a: a.sum(), lambda a: (a + 1,), (x,)), "boolean scalar tensor"),
    (lambda x: while_loop(lambda a: a.sum() < 9, lambda a: (a.sum(0, keepdim=True),), (x,)),
     "changes carried value 0"),
    (lambda x: scan(lambda c, y: (c.sum(), y * 2), x[:1], x.view(3, 1)), "changes carry 0"),
    (lambda x: scan(lambda c, y: c + y, x[0], x.view(3, 1)), "pair (next_carry, y)"),
], ids=["multi-element-pred", "str-pred", "operands-not-sequence", "object-operand", "map-0d",
        "infinite-while", "int-carry", "float-while-pred", "while-shape", "scan-carry", "scan-return"])
def test_bad_arguments(make_call, expected):
    def fn(self, x):
        return make_call(x)

    err = refusal(fn)
    assert err.category == Category.CONTROL_FLOW_OP and expected in err.reason, err.reason
