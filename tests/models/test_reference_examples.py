"""The reference documents' examples, exported and compared with eager and torch.export."""
import copy

import pytest
import torch

import strict_tracer
from support.helpers import aten_targets, check_export, run_and_compare_state, torch_functional


class MyModule(torch.nn.Module):          # tutorial: "Basic Usage"
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(100, 10)

    def forward(self, x, y):
        return torch.nn.functional.relu(self.lin(x + y), inplace=True)


class Mod(torch.nn.Module):               # docs: overview
    def forward(self, x, y):
        a = torch.sin(x)
        b = torch.cos(y)
        return a + b


class ConvModule(torch.nn.Module):        # docs: "Exporting a PyTorch Model" (keyword tensor)
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(in_channels=3, out_channels=16, kernel_size=3, padding=1)
        self.relu = torch.nn.ReLU()
        self.maxpool = torch.nn.MaxPool2d(kernel_size=3)

    def forward(self, x, *, constant=None):
        a = self.conv(x)
        a.add_(constant)
        return self.maxpool(self.relu(a))


class DecompExample(torch.nn.Module):     # docs: "Export IR, Decompositions"
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 3, 1, 1)
        self.bn = torch.nn.BatchNorm2d(3)

    def forward(self, x):
        x = self.conv(x)
        x = self.bn(x)
        return (x,)


class Branches(torch.nn.Module):          # docs: "Expressing Dynamism" (static part)
    def __init__(self):
        super().__init__()
        self.branch1 = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU())
        self.branch2 = torch.nn.Sequential(torch.nn.Linear(128, 64), torch.nn.ReLU())
        self.buffer = torch.ones(32)

    def forward(self, x1, x2):
        out1 = self.branch1(x1)
        out2 = self.branch2(x2)
        return (out1 + self.buffer, out2)


def test_my_module():
    args = (torch.randn(8, 100), torch.randn(8, 100))
    ep = check_export(MyModule(), args, fresh=[((torch.randn(8, 100), torch.randn(8, 100)), {})])
    # The in-place relu_ is functional in the exported graph, as in torch's functional form.
    assert aten_targets(ep) == ["aten.add.Tensor", "aten.linear.default", "aten.relu.default"]
    assert aten_targets(ep) == aten_targets(torch_functional(MyModule(), args))


def test_sin_cos():
    ep = check_export(Mod(), (torch.randn(10, 10), torch.randn(10, 10)),
                      fresh=[((torch.randn(10, 10), torch.randn(10, 10)), {})])
    assert aten_targets(ep) == ["aten.sin.default", "aten.cos.default", "aten.add.Tensor"]


def test_conv_with_keyword_tensor():
    args = (torch.randn(1, 3, 64, 64),)
    kwargs = {"constant": torch.ones(1, 16, 64, 64)}
    mod = ConvModule()
    ep = check_export(mod, args, kwargs,
                      fresh=[((torch.randn(1, 3, 64, 64),), {"constant": torch.randn(1, 16, 64, 64)})])
    assert aten_targets(ep) == ["aten.conv2d.default", "aten.add.Tensor", "aten.relu.default",
                                "aten.max_pool2d.default"]
    assert aten_targets(ep) == aten_targets(torch_functional(mod, args, kwargs))


def test_decomp_example_eval_and_decompositions():
    mod = DecompExample().eval()
    ep = check_export(mod, (torch.randn(1, 1, 3, 3),), fresh=[((torch.randn(1, 1, 3, 3),), {})])
    decomposed = ep.run_decompositions()
    x = torch.randn(1, 1, 3, 3)
    torch.testing.assert_close(decomposed.module()(x)[0], mod(x)[0])
    assert "aten._native_batch_norm_legit_no_training.default" in aten_targets(decomposed)


def test_decomp_example_train_mode_updates_running_stats():
    mod = DecompExample().train()
    args = (torch.randn(2, 1, 3, 3),)
    ep = check_export(mod, args, fresh=[((torch.randn(2, 1, 3, 3),), {})])
    mutations = [(s.kind.name, s.target) for s in ep.graph_signature.output_specs
                 if s.kind.name != "USER_OUTPUT"]
    assert mutations == [("BUFFER_MUTATION", "bn.num_batches_tracked"),
                         ("BUFFER_MUTATION", "bn.running_mean"),
                         ("BUFFER_MUTATION", "bn.running_var")]
    assert "aten._native_batch_norm_legit_functional.default" in aten_targets(ep)
    run_and_compare_state(mod, copy.deepcopy(ep).run_decompositions(), args)
    # One call of ep.module() moves the buffers exactly as one eager call does.
    exported, eager = ep.module(), copy.deepcopy(mod)
    x = torch.randn(2, 1, 3, 3)
    exported(x)
    eager(x)
    for name, buf in eager.named_buffers():
        torch.testing.assert_close(dict(exported.named_buffers())[name], buf)
    assert int(dict(exported.named_buffers())["bn.num_batches_tracked"]) == 1


def test_plain_tensor_attribute_is_a_constant():
    ep = check_export(Branches(), (torch.randn(32, 64), torch.randn(32, 128)))
    kinds = {spec.arg.name: spec.kind.name for spec in ep.graph_signature.input_specs}
    assert kinds["c_buffer"] == "CONSTANT_TENSOR"
    assert "buffer" in ep.constants


def test_static_program_rejects_other_shapes():
    ep = strict_tracer.export(Mod(), (torch.randn(10, 10), torch.randn(10, 10)))
    with pytest.raises(Exception, match="x.size|shape|Guard|dimension|expected"):
        ep.module()(torch.randn(11, 10), torch.randn(11, 10))
