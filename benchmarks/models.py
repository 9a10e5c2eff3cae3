"""Models the benchmarks export: small but shaped like real workloads."""
from __future__ import annotations

import torch
import torch.nn.functional as F


class MLP(torch.nn.Module):
    def __init__(self, width: int = 256, depth: int = 4):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(depth))

    def forward(self, x):
        for layer in self.layers:
            x = F.gelu(layer(x))
        return x


class Block(torch.nn.Module):
    """A pre-norm transformer block (multi-head attention + MLP)."""

    def __init__(self, dim: int = 64, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.norm1 = torch.nn.LayerNorm(dim)
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.proj = torch.nn.Linear(dim, dim)
        self.norm2 = torch.nn.LayerNorm(dim)
        self.fc1 = torch.nn.Linear(dim, 4 * dim)
        self.fc2 = torch.nn.Linear(4 * dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=-1)
        q, k, v = (y.view(b, t, self.heads, d // self.heads).transpose(1, 2) for y in (q, k, v))
        attn = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Transformer(torch.nn.Module):
    def __init__(self, vocab: int = 100, dim: int = 64, layers: int = 6):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.blocks = torch.nn.Sequential(*(Block(dim) for _ in range(layers)))
        self.head = torch.nn.Linear(dim, vocab)

    def forward(self, tokens):
        return self.head(self.blocks(self.embed(tokens)))


class BasicBlock(torch.nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(channels)
        self.conv2 = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(out)))


class ResNet(torch.nn.Module):
    def __init__(self, channels: int = 16, blocks: int = 4, classes: int = 10):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, channels, 3, padding=1)
        self.blocks = torch.nn.Sequential(*(BasicBlock(channels) for _ in range(blocks)))
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(self.pool(self.blocks(F.relu(self.stem(x)))).flatten(1))


def cases() -> dict[str, tuple[torch.nn.Module, tuple]]:
    torch.manual_seed(0)
    return {
        "mlp": (MLP(), (torch.randn(8, 256),)),
        "transformer": (Transformer().eval(), (torch.randint(0, 100, (2, 16)),)),
        "resnet": (ResNet().eval(), (torch.randn(2, 3, 32, 32),)),
    }
