"""The ExportedProgram is real: module(), save/load, run_decompositions, specs, constants."""
import io

import torch

import strict_tracer
from support.helpers import assert_same, check_export, run_both


class Nested(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)
        self.register_buffer("scale", torch.full((4,), 2.0))

    def forward(self, x, pair, d, *, k=None, n=3):
        a, b = pair
        y = self.lin(x) * self.scale + a - b
        return {"y": y, "parts": [d["u"] * n, (d["v"], n)], "none": None, "k": k + 1}


def _nested_inputs():
    return ((torch.randn(2, 4), (torch.randn(2, 4), torch.randn(2, 4)),
             {"u": torch.randn(3), "v": torch.randn(1)}), {"k": torch.randn(2), "n": 3})


def test_nested_inputs_outputs_and_kwargs():
    args, kwargs = _nested_inputs()
    ep = check_export(Nested(), args, kwargs, fresh=[_nested_inputs()])
    names = [spec.arg.name for spec in ep.graph_signature.input_specs]
    assert names == ["p_lin_weight", "p_lin_bias", "b_scale", "x", "pair_0", "pair_1", "d_u", "d_v",
                     "k", "n"]
    ref = torch.export.export(Nested(), args, kwargs, strict=True)
    assert ep.call_spec.in_spec == ref.call_spec.in_spec
    assert ep.call_spec.out_spec == ref.call_spec.out_spec
    sig = ep.module_call_graph[0].signature
    assert sig.forward_arg_names == ref.module_call_graph[0].signature.forward_arg_names


def test_constant_input_is_specialized():
    args, kwargs = _nested_inputs()
    ep = strict_tracer.export(Nested(), args, kwargs)
    kwargs["n"] = 4
    try:
        ep.module()(*args, **kwargs)
    except Exception as exc:  # torch's guard function rejects the changed constant
        assert "n == 3" in str(exc)
    else:
        raise AssertionError("a changed constant input was accepted")


def test_save_load_round_trip(tmp_path):
    mod = Nested()
    args, kwargs = _nested_inputs()
    ep = strict_tracer.export(mod, args, kwargs)
    path = tmp_path / "nested.pt2"
    torch.export.save(ep, path)
    loaded = torch.export.load(path)
    fresh_args, fresh_kwargs = _nested_inputs()
    got, want = run_both(mod, loaded, fresh_args, fresh_kwargs)
    assert_same(got, want)
    assert str(loaded.graph_signature) == str(ep.graph_signature)


def test_save_load_to_buffer_and_decompose():
    mod = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5)).eval()
    x = torch.randn(2, 3, 8, 8)
    ep = strict_tracer.export(mod, (x,))
    buffer = io.BytesIO()
    torch.export.save(ep, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    core = loaded.run_decompositions()
    targets = {str(n.target) for n in core.graph.nodes if n.op == "call_function"}
    assert "aten.convolution.default" in targets and "aten.conv2d.default" not in targets
    torch.testing.assert_close(core.module()(x), mod(x))
    empty = ep.run_decompositions({})
    torch.testing.assert_close(empty.module()(x), mod(x))


def test_returning_parameters_and_constants():
    class ReturnsState(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn(3))
            self.const = torch.arange(3.0)

        def forward(self, x):
            return self.w, self.const, x + torch.tensor([1.0, 2.0, 3.0])

    mod = ReturnsState()
    ep = strict_tracer.export(mod, (torch.randn(3),))
    got, want = run_both(mod, ep, (torch.randn(3),))
    assert_same(got, want)
    kinds = [spec.kind.name for spec in ep.graph_signature.input_specs]
    assert kinds == ["PARAMETER", "CONSTANT_TENSOR", "CONSTANT_TENSOR", "USER_INPUT"]


def test_state_dict_holds_all_parameters_and_persistent_buffers():
    class Partial(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.used = torch.nn.Linear(2, 2)
            self.unused = torch.nn.Linear(2, 2)
            self.register_buffer("np_buf", torch.ones(2), persistent=False)

        def forward(self, x):
            return self.used(x) + self.np_buf

    mod = Partial()
    ep = strict_tracer.export(mod, (torch.randn(1, 2),))
    ref = torch.export.export(mod, (torch.randn(1, 2),), strict=True)
    assert set(ep.state_dict) == set(ref.state_dict)
    assert set(ep.constants) == set(ref.constants)
    assert str(ep.graph_signature) == str(ref.graph_signature)


def test_node_metadata():
    args, kwargs = _nested_inputs()
    ep = strict_tracer.export(Nested(), args, kwargs)
    linear = next(n for n in ep.graph.nodes if n.name == "linear")
    # As torch.export's: the trace ends at the user's line (no frame of nn.Linear's forward).
    frames = [line for line in linear.meta["stack_trace"].splitlines() if line.startswith("  File")]
    assert len(frames) == 1 and "test_packaging.py" in frames[0]
    ref = torch.export.export(Nested(), args, kwargs, strict=True)
    ref_linear = next(n for n in ref.graph.nodes if n.target is torch.ops.aten.linear.default)
    assert frames[0] in ref_linear.meta["stack_trace"]
    assert ("lin", "torch.nn.modules.linear.Linear") in linear.meta["nn_module_stack"].values()
    assert linear.meta["val"].shape == (2, 4)
    printed = str(ep)
    assert "# File: " in printed and "test_packaging.py" in printed


def test_non_strict_delegates_to_torch_export():
    class Uses_id(torch.nn.Module):
        def forward(self, x):
            x = x + 1
            return x + id(x) * 0

    x = torch.randn(3)
    ep = strict_tracer.export(Uses_id(), (x,), strict=False)
    assert isinstance(ep, torch.export.ExportedProgram)
    torch.testing.assert_close(ep.module()(x), x + 1)


def test_placeholder_names_collide_like_torch_names_them():
    """A user input named like a lifted parameter (`p["param"]` flattens to `p_param`) keeps its
    name; the parameter's placeholder becomes `p_param_1`, and the code's arguments follow."""
    class Collide(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.param = torch.nn.Parameter(torch.randn(4))
            self.alpha = torch.nn.Buffer(torch.randn(4))
            self.gamma = torch.randn(4)

        def forward(self, p, b_alpha, c_gamma):
            return p["param"] + self.param, self.alpha + b_alpha, self.gamma + c_gamma

    mod = Collide()
    inputs = ({"param": torch.randn(4)}, torch.randn(4), torch.randn(4))
    ours = strict_tracer.export(mod, inputs)
    theirs = torch.export.export(mod, inputs)
    names = [(spec.arg.name, spec.kind) for spec in ours.graph_signature.input_specs]
    assert names == [(spec.arg.name, spec.kind) for spec in theirs.graph_signature.input_specs]
    assert [n.name for n in ours.graph.nodes if n.op == "placeholder"] == \
        [n.target for n in ours.graph.nodes if n.op == "placeholder"]
    for got, expected in zip(ours.module()(*inputs), mod(*inputs)):
        torch.testing.assert_close(got, expected)


def test_user_inputs_named_like_ops_keep_their_names():
    class Named(torch.nn.Module):
        def forward(self, mul, add, add_1):
            return mul * mul + add * add_1

    inputs = tuple(torch.randn(4, 4) for _ in range(3))
    ours = strict_tracer.export(Named(), inputs)
    theirs = torch.export.export(Named(), inputs)
    assert [(n.name, n.op) for n in ours.graph.nodes] == [(n.name, n.op) for n in theirs.graph.nodes]
    torch.testing.assert_close(ours.module()(*inputs), Named()(*inputs))
