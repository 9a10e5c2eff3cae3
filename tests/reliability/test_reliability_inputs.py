"""Bad input to export(): each mistake is a UserInputError (a ValueError, like the
ValueError/UserError torch.export raises) that says what is wrong and how to fix it, raised
before any tracing; valid but unusual inputs (constants, None, strings, meta tensors, a
GraphModule) export like torch.export.export(..., strict=True)."""
from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.errors import UserInputError


class AddOne(torch.nn.Module):
    def forward(self, x, y=1):
        return x + y


class Options(torch.nn.Module):
    def forward(self, x, bias=None, mode="add", scale=1.0):
        if bias is not None:
            x = x + bias
        return x * scale if mode == "mul" else x + scale


def _fn(x):
    return x + 1


def _torch_refuses(mod, args, kwargs=None, dynamic_shapes=None):
    with pytest.raises(Exception):
        torch.export.export(mod, args, kwargs, dynamic_shapes=dynamic_shapes, strict=True)


def _ours_refuses(mod, args, kwargs=None, dynamic_shapes=None, *, says=(), fix=()):
    with pytest.raises(UserInputError) as info:
        strict_tracer.export(mod, args, kwargs, dynamic_shapes=dynamic_shapes)
    text = str(info.value)
    for part in (*says, *fix):
        assert part in text, text
    return text


X = torch.ones(2, 3)


@pytest.mark.parametrize("callable_", [_fn, lambda x: x + 1, torch.relu], ids=["def", "lambda", "builtin"])
def test_plain_callables_are_refused_like_torch_export(callable_):
    # torch.export.export raises ValueError for a non-Module; UserInputError is a ValueError
    with pytest.raises(ValueError, match="Expected `mod` to be an instance of `torch.nn.Module`"):
        torch.export.export(callable_, (X,))
    assert issubclass(UserInputError, ValueError)
    _ours_refuses(callable_, (X,), says=["expects a torch.nn.Module"],
                  fix=["wrap it in a module whose forward() calls it"])


def test_non_callable_is_refused():
    _ours_refuses(object(), (X,), says=["expects a torch.nn.Module, got object"])


def test_script_module_is_refused_like_torch_export():
    scripted = torch.jit.script(torch.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="ScriptModule is not supported"):
        torch.export.export(scripted, (X,))
    _ours_refuses(scripted, (X,), says=["Exporting a ScriptModule is not supported"],
                  fix=["export the original nn.Module", "TS2EPConverter"])


def test_graph_module_exports_like_torch_export():
    gm = torch.fx.symbolic_trace(AddOne())
    ours = strict_tracer.export(gm, (X,))
    theirs = torch.export.export(gm, (X,), strict=True)
    assert ours.graph_module.code == theirs.graph_module.code
    torch.testing.assert_close(ours.module()(X), X + 1)


@pytest.mark.parametrize("args,says", [
    ([X], "Expecting `args` to be a tuple of example positional inputs, got list"),
    (X, "Expecting `args` to be a tuple of example positional inputs, got Tensor"),
])
def test_args_not_a_tuple(args, says):
    _torch_refuses(AddOne(), args)
    _ours_refuses(AddOne(), args, says=[says], fix=["wrap a single input as (x,)"])


def test_kwargs_not_a_dict():
    _torch_refuses(AddOne(), (X,), [1])
    _ours_refuses(AddOne(), (X,), [1], says=["kwargs must be a dict, got list"])


@pytest.mark.parametrize("args,kwargs,says", [
    ((X, 1, 2), None, "too many positional arguments"),
    ((), None, "missing a required argument: 'x'"),
    ((X,), {"z": 1}, "got an unexpected keyword argument 'z'"),
    ((X, 1), {"y": 2}, "multiple values for argument 'y'"),
], ids=["too-many", "too-few", "unknown-kwarg", "twice"])
def test_inputs_not_matching_forward(args, kwargs, says):
    _torch_refuses(AddOne(), args, kwargs)
    text = _ours_refuses(AddOne(), args, kwargs, says=["AddOne.forward(x, y=1)", says],
                         fix=["pass example inputs that forward() accepts"])
    assert __file__ in text        # where forward is defined


@pytest.mark.parametrize("args,kwargs", [
    ((X, None, "mul", 2.5), None),
    ((X,), {"mode": "mul", "scale": 3}),
    ((X, torch.full((3,), 2.0), "add", True), None),
], ids=["none-str-float", "kwargs", "tensor-str-bool"])
def test_constant_leaves_export_like_torch_export(args, kwargs):
    ours = strict_tracer.export(Options(), args, kwargs)
    theirs = torch.export.export(Options(), args, kwargs, strict=True)
    assert ours.graph_module.code == theirs.graph_module.code
    assert ours.graph_signature.user_inputs == theirs.graph_signature.user_inputs
    torch.testing.assert_close(ours.module()(*args, **(kwargs or {})),
                               Options()(*args, **(kwargs or {})))


class Opaque:
    pass


def test_unflattenable_leaf():
    _torch_refuses(AddOne(), (X, Opaque()))
    _ours_refuses(AddOne(), (X, Opaque()), says=["input 'y' has type Opaque"],
                  fix=["containers registered with torch.utils._pytree"])


def test_tensor_subclass_input():
    class Sub(torch.Tensor):
        pass
    _ours_refuses(AddOne(), (X.as_subclass(Sub),), says=["input 'x' is a Sub"],
                  fix=["pass a plain torch.Tensor"])


@pytest.mark.parametrize("make,says,fix", [
    (lambda: X.to_sparse(), "sparse_coo tensor", "t.to_dense()"),
    (lambda: X.to_sparse_csr(), "sparse_csr tensor", "t.to_dense()"),
    (lambda: torch.nested.nested_tensor([torch.ones(2), torch.ones(3)]), "nested tensor",
     "to_padded_tensor"),
    (lambda: torch.quantize_per_tensor(X, 0.1, 0, torch.qint8), "quantized tensor",
     "t.dequantize()"),
], ids=["sparse-coo", "sparse-csr", "nested", "quantized"])
def test_non_strided_tensor_inputs(make, says, fix):
    value = make()
    _torch_refuses(AddOne(), (value,))
    _ours_refuses(AddOne(), (value,), says=[f"input 'x' is a {says}", "dense (strided)"],
                  fix=[fix])


class Linear(torch.nn.Module):
    def __init__(self, device):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2, device=device)

    def forward(self, x):
        return self.lin(x)


def test_meta_tensors_export_like_torch_export():
    """Tracing needs only metadata: a model and inputs on the meta device export."""
    x = torch.ones(4, 3, device="meta")
    ours = strict_tracer.export(Linear("meta"), (x,))
    theirs = torch.export.export(Linear("meta"), (x,), strict=True)
    assert ours.graph_module.code == theirs.graph_module.code
    assert ours.graph.find_nodes(op="placeholder")[-1].meta["val"].device.type == "meta"


def test_device_mismatch_is_the_programs_error():
    """Parameters on meta, input on cpu: eager raises; so does export (a RuntimeError naming
    both devices, as torch.export's fake tensors report it)."""
    with pytest.raises(RuntimeError, match="meta"):
        Linear("meta")(torch.ones(4, 3))
    with pytest.raises(RuntimeError, match="cpu and meta|meta and cpu"):
        strict_tracer.export(Linear("meta"), (torch.ones(4, 3),))


@pytest.mark.parametrize("dynamic_shapes,says", [
    (5, "dynamic_shapes must be a dict, tuple, list"),
    ({"q": {0: Dim("a")}}, "top-level keys must be the arg names ['x', 'y']"),
    (({0: Dim("a")}, None, None), "`inputs` has 2 elements, but `dynamic_shapes` has 3"),
    ({"x": {0: "hello"}, "y": None}, "but got 'hello' instead"),
    ({"x": {7: Dim("a")}, "y": None}, "index 7"),
], ids=["type", "keys", "length", "value", "index"])
def test_malformed_dynamic_shapes(dynamic_shapes, says):
    _ours_refuses(AddOne(), (X, 1), dynamic_shapes=dynamic_shapes, says=[says])


def test_missing_forward_is_the_programs_error():
    """nn.Module without forward(): the same NotImplementedError eager raises."""
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        strict_tracer.export(torch.nn.Module(), (X,))
