"""Unsupported constructs are refused with a GraphBreakError that locates them."""
import pytest
import torch

import strict_tracer
from support.bytecode_expect import branch_opname
from strict_tracer import Category, GraphBreakError

THIS_FILE = __file__


class Bad1(torch.nn.Module):          # tutorial: data-dependent control flow
    def forward(self, x):
        if x.sum() > 0:
            return torch.sin(x)
        return torch.cos(x)


class Bad3(torch.nn.Module):          # tutorial: id() of a tensor
    def forward(self, x):
        x = x + 1
        return x + id(x)


def _line_of(text: str) -> int:
    with open(THIS_FILE) as f:
        for number, line in enumerate(f, 1):
            if text in line:
                return number
    raise AssertionError(text)


def test_bad1_data_dependent_branch_is_refused():
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(Bad1(), (torch.randn(3, 3),))
    err = info.value
    assert err.category == Category.DATA_DEPENDENT_BRANCH
    assert err.frames[0].filename == THIS_FILE
    assert err.frames[0].lineno == _line_of("if x.sum() > 0:")
    assert err.instruction.opname == branch_opname("x.sum() > 0")
    text = str(err)
    assert f"{THIS_FILE}:{_line_of('if x.sum() > 0:')}" in text
    assert "if x.sum() > 0:" in text
    assert "Tensor(bool[], from aten.gt.Scalar" in text
    assert "torch.cond" in text
    assert any(current for current, _ in err.window)


def test_bad3_id_of_tensor_is_refused():
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(Bad3(), (torch.randn(3, 3),))
    err = info.value
    assert err.category == Category.UNSUPPORTED_NATIVE
    assert err.frames[0].lineno == _line_of("return x + id(x)")
    assert err.instruction.opname == "CALL"
    assert "id()" in str(err)


class Item(torch.nn.Module):
    def forward(self, x):
        return x * [1.0, 2.0, 3.0][x.argmax()]


def test_tensor_as_python_index_is_refused():
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(Item(), (torch.randn(3),))
    assert info.value.category == Category.DATA_DEPENDENT_VALUE
    assert info.value.frames[0].lineno == _line_of("return x * [1.0, 2.0, 3.0][x.argmax()]")


class OpenFile(torch.nn.Module):
    def forward(self, x):
        open("/dev/null").close()
        return x


def test_outside_world_call_is_refused():
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(OpenFile(), (torch.randn(3),))
    assert info.value.category == Category.SIDE_EFFECT
    assert "open" in str(info.value) and "opens a file" in str(info.value)


class AsyncInside(torch.nn.Module):
    def forward(self, x):
        async def helper():
            return x
        return helper()


def test_coroutines_are_refused():
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(AsyncInside(), (torch.randn(3),))
    assert "coroutine" in str(info.value)


class GradInside(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(3, 2))

    def forward(self, x):
        return torch.func.grad(lambda row: (row @ self.w).sum())(x)


def test_functorch_transforms_are_refused_with_a_fix():
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(GradInside(), (torch.randn(4, 3),))
    assert info.value.category == Category.UNSUPPORTED_PYTHON
    assert "torch.func.grad" in info.value.reason
    assert info.value.frames[0].lineno == _line_of("return torch.func.grad(lambda row: (row @ self.w).sum())(x)")
    assert "outside the exported module" in info.value.hint


class RequiresGradInside(torch.nn.Module):
    def __init__(self, how):
        super().__init__()
        self.how = how

    def forward(self, x):
        if self.how == "method":
            y = x.clone().requires_grad_()
        elif self.how == "factory":
            y = torch.ones(x.shape, requires_grad=True)
        else:
            y = x.clone().requires_grad_(False)
        return y * y.requires_grad


@pytest.mark.parametrize("how", ["method", "factory"])
def test_requiring_grad_inside_forward_is_refused(how):
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(RequiresGradInside(how), (torch.randn(3),))
    assert info.value.category == Category.UNSUPPORTED_TENSOR_OP
    assert "require grad" in info.value.reason and "nn.Parameter" in info.value.hint


def test_requires_grad_false_is_a_no_op():
    x = torch.randn(3)
    ep = strict_tracer.export(RequiresGradInside("off"), (x,))
    assert torch.equal(ep.module()(x), RequiresGradInside("off")(x))


class CheckpointWithContext(torch.nn.Module):
    def forward(self, x):
        import contextlib

        import torch.utils.checkpoint as ckpt
        contexts = lambda: (contextlib.nullcontext(), contextlib.nullcontext())  # noqa: E731
        return ckpt.checkpoint(torch.sin, x, use_reentrant=False, context_fn=contexts)


def test_checkpoint_with_a_custom_context_fn_is_refused():
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(CheckpointWithContext(), (torch.randn(3),))
    assert info.value.category == Category.UNSUPPORTED_PYTHON
    assert "context_fn" in info.value.reason and "drop context_fn" in info.value.hint
    assert info.value.frames[0].lineno == _line_of(
        "return ckpt.checkpoint(torch.sin, x, use_reentrant=False, context_fn=contexts)")


def test_user_errors_propagate_with_location():
    class Raises(torch.nn.Module):
        def forward(self, x):
            raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input") as info:
        strict_tracer.export(Raises(), (torch.randn(3),))
    assert any("strict_tracer" in note and THIS_FILE in note for note in info.value.__notes__)


def test_shape_errors_are_the_eager_errors():
    class Mismatch(torch.nn.Module):
        def forward(self, x, y):
            return x @ y

    # The meta kernels raise the same error torch.export reports for this program.
    with pytest.raises(RuntimeError, match="same reduction dim"):
        strict_tracer.export(Mismatch(), (torch.randn(2, 3), torch.randn(4, 5)))


def test_bad_arguments_raise_user_input_error():
    with pytest.raises(strict_tracer.UserInputError, match="tuple"):
        strict_tracer.export(Bad1(), torch.randn(3))
    with pytest.raises(strict_tracer.UserInputError, match="nn.Module"):
        strict_tracer.export(lambda x: x, (torch.randn(3),))
    with pytest.raises(strict_tracer.UserInputError, match="do not match"):
        strict_tracer.export(Bad1(), (torch.randn(3), torch.randn(3)))
