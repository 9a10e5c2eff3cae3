"""torch's opt-in real-tensor propagation (`torch._functorch.config.
fake_tensor_propagate_real_tensors`): custom ops checked against their real kernels, fake
kernels inferred for custom ops that have none, on clones of the user's values."""
from __future__ import annotations

import re

import pytest
import torch
from torch._dynamo.exc import TorchRuntimeError
from torch._subclasses.fake_tensor import MetadataMismatchError
from torch.export import Dim

import strict_tracer
from strict_tracer.ops.oracle.fakes import metadata_fake_mode
from support.helpers import CallFn, assert_same, marked_line

kernel_runs: list[str] = []


def real_tensors():
    return torch._functorch.config.patch(fake_tensor_propagate_real_tensors=True)


@torch.library.custom_op("st_rt::swapped", mutates_args={})
def swapped(a: torch.Tensor) -> torch.Tensor:
    kernel_runs.append("swapped")
    return a * 3


@swapped.register_fake
def _swapped_fake(a):
    rows, cols = a.shape
    return a.new_empty(cols, rows)        # wrong: the kernel keeps the shape


@torch.library.custom_op("st_rt::as_int", mutates_args={})
def as_int(a: torch.Tensor) -> torch.Tensor:
    return a + 1


@as_int.register_fake
def _as_int_fake(a):
    return torch.empty(a.shape, dtype=torch.int64)       # wrong: the kernel keeps the dtype


@torch.library.custom_op("st_rt::fresh", mutates_args={})
def fresh(a: torch.Tensor) -> torch.Tensor:
    return a - 1


@fresh.register_fake
def _fresh_fake(a):
    return a                              # wrong: the kernel returns a new tensor


@torch.library.custom_op("st_rt::bump_quietly", mutates_args={})
def bump_quietly(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    y.mul_(2)                             # undeclared write
    return x.clone()


@bump_quietly.register_fake
def _bump_quietly_fake(x, y):
    return torch.empty_like(x)


@torch.library.custom_op("st_rt::bump", mutates_args={"y"})
def bump(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    y.mul_(2)
    return x + y


@bump.register_fake
def _bump_fake(x, y):
    return torch.empty_like(x)


@torch.library.custom_op("st_rt::claims_write", mutates_args={"y"})
def claims_write(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x + y                          # declared a write, does none


@claims_write.register_fake
def _claims_write_fake(x, y):
    return torch.empty_like(x)


@torch.library.custom_op("st_rt::bump_list", mutates_args={})
def bump_list(parts: list[torch.Tensor]) -> torch.Tensor:
    parts[1].add_(1)                      # undeclared write to a list element
    return parts[0].clone()


@bump_list.register_fake
def _bump_list_fake(parts):
    return torch.empty_like(parts[0])


@torch.library.custom_op("st_rt::passthrough", mutates_args={})
def passthrough(x: torch.Tensor) -> torch.Tensor:
    return x                              # custom ops may not return their input


@passthrough.register_fake
def _passthrough_fake(x):
    return torch.empty_like(x)


@torch.library.custom_op("st_rt::outer", mutates_args={})
def outer(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:      # no fake implementation
    kernel_runs.append("outer")
    return x.reshape(-1, 1) * y.reshape(1, -1)


@torch.library.custom_op("st_rt::split_sum", mutates_args={})
def split_sum(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:   # no fake implementation
    return x[x > 0].clone(), x.sum(0, keepdim=True)


@torch.library.custom_op("st_rt::offset_row", mutates_args={})
def offset_row(x: torch.Tensor) -> torch.Tensor:                  # no fake implementation
    return x.repeat(4, 1)[2]


@torch.library.custom_op("st_rt::strided_diag", mutates_args={})
def strided_diag(x: torch.Tensor) -> torch.Tensor:                # no fake implementation
    return torch.ones(4, 4).diagonal()


class CallPair(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x, y):
        return self.fn(x, y)


def _module(fn, args):
    return CallFn(fn) if len(args) == 1 else CallPair(fn)


@torch.library.custom_op("st_rt::jitter", mutates_args={})
def jitter(x: torch.Tensor) -> torch.Tensor:                      # no fake implementation
    return x + torch.randn_like(x)


def _raises(exc_type, pattern: str, fn, args, dynamic_shapes=None):
    with real_tensors(), pytest.raises(exc_type, match=pattern) as info:
        strict_tracer.export(_module(fn, args), args, dynamic_shapes=dynamic_shapes)
    return info.value


def test_size_mismatch_is_found_at_the_users_line():
    error = _raises(TorchRuntimeError, re.escape(
        "Real tensor propagation found an output size mismatch between fake shape 3 and real "
        "shape 2, at output.size(0), for func: st_rt.swapped.default"),
        lambda a: swapped(a) + 1, (torch.randn(2, 3),))                 # <- swapped
    assert isinstance(error, MetadataMismatchError)
    line = marked_line(__file__, "swapped")
    assert any(f"line {line}," in note for note in error.__notes__)
    with real_tensors():     # square inputs: the wrong kernel agrees with the real one
        strict_tracer.export(CallFn(swapped), (torch.randn(3, 3),))


def test_size_mismatch_names_the_symbol_of_a_dynamic_size():
    rows, cols = Dim("rows"), Dim("cols")
    _raises(TorchRuntimeError, r"between fake shape s\d+ and real shape 2, at output\.size\(0\)",
            swapped, (torch.randn(2, 3),), dynamic_shapes=({0: rows, 1: cols},))


def test_dtype_mismatch():
    _raises(TorchRuntimeError, re.escape(
        "Real tensor propagation found a metadata mismatch between fake tensor tensor(..., "
        "size=(2, 3), dtype=torch.int64, device=cpu) and real tensor tensor(..., size=(2, 3), "
        "dtype=torch.float32, device=cpu), at output, for func: st_rt.as_int.default"),
        as_int, (torch.randn(2, 3),))


def test_alias_mismatch():
    _raises(TorchRuntimeError, re.escape(
        "Real tensor propagation found an aliasing mismatch between fake output tensor(..., "
        "size=(4,), dtype=torch.float32, device=cpu) and real output tensor(..., size=(4,), "
        "dtype=torch.float32, device=cpu), for func: st_rt.fresh.default (the fake "
        "implementation returns one of its inputs, the real kernel a new tensor)"),
        fresh, (torch.randn(4),))


def test_undeclared_mutation():
    x, y = torch.randn(4), torch.randn(4)
    y_before = y.clone()
    _raises(TorchRuntimeError, re.escape(
        "st_rt::bump_quietly: for argument 'y': the operator's schema st_rt::bump_quietly(Tensor "
        "x, Tensor y) -> Tensor says that the operator does not mutate the argument, but its "
        "real kernel, run on the example values, changed it."),
        lambda x, y: bump_quietly(x, y), (x, y))
    assert torch.equal(y, y_before)       # the kernel wrote a clone


def test_declared_mutation_that_does_not_happen():
    _raises(TorchRuntimeError, r"for argument 'y': .* says that the operator mutates the "
            r"argument, but its real kernel, run on the example values, left it unchanged",
            lambda x, y: claims_write(x, y), (torch.randn(4), torch.randn(4)))


def test_undeclared_mutation_of_a_list_element():
    _raises(TorchRuntimeError, r"st_rt::bump_list: for argument 'parts': .* does not mutate",
            lambda xs: bump_list(xs), ([torch.randn(4), torch.randn(4)],))


def test_a_kernel_returning_its_input_fails_torch_librarys_check():
    _raises(TorchRuntimeError, re.escape("(1) must not also be an input to this custom "
                                         "operator and (2) may not alias any inputs"),
            passthrough, (torch.randn(4),))


def test_user_state_is_unchanged_and_the_program_runs_like_eager():
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.full((4,), 2.0))
            self.register_buffer("count", torch.zeros(4))

        def forward(self, x, y):
            self.count.add_(1)
            return bump(x * self.w, y) + self.count

    model, x, y = Model(), torch.randn(4), torch.randn(4)
    before = [t.detach().clone() for t in (model.w, model.count, x, y)]
    with real_tensors():
        ep = strict_tracer.export(model, (x, y))
    for now, then in zip((model.w, model.count, x, y), before):
        assert torch.equal(now, then)
    y_eager, y_program = y.clone(), y.clone()
    assert_same(ep.module()(x, y_program), Model()(x, y_eager))
    assert torch.equal(y_program, y_eager)


def test_fake_kernel_inferred_with_unbacked_sizes():
    kernel_runs.clear()
    x, y = torch.randn(3), torch.randn(5)
    with real_tensors():
        ep = strict_tracer.export(CallPair(outer), (x, y),
                                  dynamic_shapes=({0: Dim("n")}, {0: Dim("m")}))
    assert kernel_runs == ["outer"]       # once, on the real values
    node = next(n for n in ep.graph.nodes if n.target is torch.ops.st_rt.outer.default)
    sizes = [str(s) for s in node.meta["val"].shape]
    assert len(sizes) == 2 and all(re.fullmatch(r"u\d+", s) for s in sizes)
    asserted = [n.args[1] for n in ep.graph.nodes
                if n.target is torch.ops.aten._assert_scalar.default]
    assert asserted == [f"Runtime assertion failed for expression {s} >= 0 on node '{name}'"
                        for s, name in zip(sizes, ("ge", "ge_1"))]
    assert all(str(r.lower) == "0" for s, r in ep.range_constraints.items() if str(s) in sizes)
    for args in ((x, y), (torch.randn(2), torch.randn(7))):
        assert_same(ep.module()(*args), outer(*args))


def test_fake_kernel_inferred_for_a_tuple_of_outputs():
    x = torch.tensor([[1.0, -2.0], [3.0, 4.0]])
    with real_tensors():
        ep = strict_tracer.export(CallFn(lambda x: split_sum(x)), (x,))
    outputs = [n for n in ep.graph.nodes if n.op == "output"][0].args[0]
    assert [len(o.meta["val"].shape) for o in outputs] == [1, 2]
    other = torch.tensor([[-1.0, 5.0], [6.0, 7.0]])
    assert_same(ep.module()(other), split_sum(other))


@pytest.mark.parametrize("op, reason", [
    (offset_row, "a return has a non-zero storage offset 8"),
    (strided_diag, "a return is not dense in memory (sizes [4], strides [5])"),
])
def test_fake_kernel_inference_refuses_outputs_it_cannot_describe(op, reason):
    _raises(TorchRuntimeError, re.escape(
        f"propagate_real_tensors: cannot infer a fake kernel (meta kernel) for operator "
        f"{op._qualname} from its real output: {reason}. Register one with "
        "torch.library.register_fake."), op, (torch.randn(4),))


def test_without_the_flag_nothing_runs_for_real():
    kernel_runs.clear()
    strict_tracer.export(CallFn(swapped), (torch.randn(2, 3),))   # the wrong kernel: unchecked
    with pytest.raises(RuntimeError, match="no fake impl"):
        strict_tracer.export(CallPair(outer), (torch.randn(3), torch.randn(2)))
    assert kernel_runs == []
    with real_tensors():     # the oracle's fakes stay metadata, even made under the flag
        assert metadata_fake_mode().propagate_real_tensors is False


def test_random_draws_leave_the_global_generator_as_it_was():
    class Noisy(torch.nn.Module):
        def forward(self, x):
            return jitter(torch.nn.functional.dropout(x, 0.5, training=True) + torch.randn(4))

    x = torch.randn(4)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    with real_tensors():
        strict_tracer.export(Noisy(), (x,))
    assert torch.equal(torch.rand(3), expected)
