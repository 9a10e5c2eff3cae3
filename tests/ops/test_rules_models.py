"""Shape rules on the ATen calls real models make: torch.export's graphs of tiny Hugging Face
models and a ResNet-style CNN, with dynamic batch/sequence (and image) sizes, replayed
through our rules (see rules_replay). Every symbolic node must have a rule that agrees with
torch's symbolic shapes and specializes nothing."""
import pytest
import torch
from torch.export import Dim

from support.rules_replay import replay

V = 100


def _text(model_cls, config):
    ids = torch.randint(0, V, (2, 8))
    return model_cls(config), (ids,), {"input_ids": {0: Dim.AUTO, 1: Dim.AUTO}}


def _hf():
    return pytest.importorskip("transformers")


def _models():
    return {
        "bert": lambda: _text(_hf().BertModel, _hf().BertConfig(
            vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37)),
        "gpt2": lambda: _text(_hf().GPT2Model, _hf().GPT2Config(
            vocab_size=V, n_embd=32, n_layer=2, n_head=4, use_cache=False,
            bos_token_id=0, eos_token_id=0)),
        "llama": lambda: _text(_hf().LlamaModel, _hf().LlamaConfig(
            vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, intermediate_size=37, use_cache=False)),
        "t5": lambda: _text(_hf().T5EncoderModel, _hf().T5Config(
            vocab_size=V, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4)),
        "vit": lambda: (_hf().ViTModel(_hf().ViTConfig(
            image_size=16, patch_size=4, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=4, intermediate_size=37)), (torch.randn(2, 3, 16, 16),),
            {"pixel_values": {0: Dim.AUTO}}),
        "resnet": lambda: (ResNet(), (torch.randn(2, 3, 32, 32),),
                           {"x": {0: Dim.AUTO, 2: Dim.AUTO, 3: Dim.AUTO}}),
    }


class Block(torch.nn.Module):
    def __init__(self, c, down=False):
        super().__init__()
        self.c1 = torch.nn.Conv2d(c, c, 3, stride=2 if down else 1, padding=1, bias=False)
        self.b1 = torch.nn.BatchNorm2d(c)
        self.c2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.b2 = torch.nn.BatchNorm2d(c)
        self.skip = torch.nn.AvgPool2d(2, ceil_mode=True) if down else torch.nn.Identity()

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        y += self.skip(x)
        return torch.relu(y)


class ResNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 7, 2, 3)
        self.bn = torch.nn.BatchNorm2d(8)
        self.pool = torch.nn.MaxPool2d(3, 2, 1)
        self.blocks = torch.nn.Sequential(Block(8), Block(8, down=True))
        self.avg = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(8, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.stem(x))))
        return self.fc(torch.flatten(self.avg(self.blocks(x)), 1))


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)
                                  for n in ("bert", "gpt2", "llama", "t5", "vit")] + ["resnet"])
def test_rules_agree_with_torch_export_on_real_models(name):
    torch.manual_seed(0)
    model, args, dynamic = _models()[name]()
    model.eval()
    ep = torch.export.export(model, args, dynamic_shapes=dynamic, strict=False)
    report = replay(ep)
    assert report.symbolic_nodes > 0
    assert not report.mismatches, report.mismatches[:3]
    assert not report.specialized, report.specialized[:5]
