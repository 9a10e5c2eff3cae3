"""Large models for `bench.py --large`: a Llama-3-8B-shaped decoder built on the meta device
(no weights allocated) and a ResNet-152-depth CNN with real weights.

`LARGE` maps a name to a `LargeCase`; `build()` makes the model, `inputs()` its example
inputs, `dynamic()` its dynamic_shapes (None for the static case).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch.export import Dim

# Llama-3-8B's configuration (hidden 4096, 32 heads of 128, 8 key/value heads, SwiGLU 14336,
# vocabulary 128256); the depth is the benchmark's parameter.
LLAMA3_8B = dict(hidden=4096, heads=32, kv_heads=8, intermediate=14336, vocab=128256,
                 rope_theta=500000.0)


@dataclass
class LargeCase:
    name: str
    build: Callable[[], torch.nn.Module]
    inputs: Callable[[], tuple]
    dynamic: Callable[[], object]


# --------------------------------------------------------------------------- Llama
class RMSNorm(torch.nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(torch.nn.Module):
    """Grouped-query attention, written like Hugging Face's Llama (repeat_kv, SDPA)."""

    def __init__(self, hidden: int, heads: int, kv_heads: int):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, hidden // heads
        self.q_proj = torch.nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.k_proj = torch.nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.v_proj = torch.nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.o_proj = torch.nn.Linear(heads * self.head_dim, hidden, bias=False)

    def _repeat_kv(self, x):
        batch, kv_heads, length, dim = x.shape
        groups = self.heads // self.kv_heads
        x = x[:, :, None, :, :].expand(batch, kv_heads, groups, length, dim)
        return x.reshape(batch, kv_heads * groups, length, dim)

    def forward(self, x, cos, sin):
        batch, length, _ = x.shape
        q = self.q_proj(x).view(batch, length, -1, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, length, -1, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, length, -1, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        out = F.scaled_dot_product_attention(q, self._repeat_kv(k), self._repeat_kv(v),
                                             is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, -1))


class DecoderLayer(torch.nn.Module):
    def __init__(self, hidden: int, heads: int, kv_heads: int, intermediate: int):
        super().__init__()
        self.input_layernorm = RMSNorm(hidden)
        self.self_attn = Attention(hidden, heads, kv_heads)
        self.post_attention_layernorm = RMSNorm(hidden)
        self.gate_proj = torch.nn.Linear(hidden, intermediate, bias=False)
        self.up_proj = torch.nn.Linear(hidden, intermediate, bias=False)
        self.down_proj = torch.nn.Linear(intermediate, hidden, bias=False)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(torch.nn.Module):
    def __init__(self, layers: int, hidden: int, heads: int, kv_heads: int, intermediate: int,
                 vocab: int, rope_theta: float):
        super().__init__()
        self.head_dim = hidden // heads
        self.embed_tokens = torch.nn.Embedding(vocab, hidden)
        self.layers = torch.nn.ModuleList(
            DecoderLayer(hidden, heads, kv_heads, intermediate) for _ in range(layers))
        self.norm = RMSNorm(hidden)
        self.lm_head = torch.nn.Linear(hidden, vocab, bias=False)
        inv_freq = 1.0 / rope_theta ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, input_ids):
        x = self.embed_tokens(input_ids)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).float()
        freqs = positions[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None].to(x.dtype), emb.sin()[None, None].to(x.dtype)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.norm(x))


def llama_case(layers: int, dynamic: bool) -> LargeCase:
    def build() -> torch.nn.Module:
        with torch.device("meta"):
            return Llama(layers, **LLAMA3_8B).eval()

    return LargeCase(
        f"llama3-8b-{layers}", build,
        lambda: (torch.zeros(1, 128, dtype=torch.long, device="meta"),),
        (lambda: ({1: Dim("seq", max=4096)},)) if dynamic else (lambda: None))


# --------------------------------------------------------------------------- ResNet-152
class Bottleneck(torch.nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = torch.nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(planes)
        self.conv2 = torch.nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(planes)
        self.conv3 = torch.nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = torch.nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = torch.nn.Sequential(
                torch.nn.Conv2d(inplanes, out, 1, stride, bias=False), torch.nn.BatchNorm2d(out))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        return F.relu(self.bn3(self.conv3(y)) + identity)


class ResNet152(torch.nn.Module):
    """torchvision's ResNet-152 layout: stages of 3, 8, 36 and 3 bottleneck blocks."""

    def __init__(self, blocks=(3, 8, 36, 3), classes: int = 1000):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(64)
        self.maxpool = torch.nn.MaxPool2d(3, 2, 1)
        stages, inplanes = [], 64
        for i, count in enumerate(blocks):
            planes = 64 * 2 ** i
            layers = [Bottleneck(inplanes, planes, 1 if i == 0 else 2)]
            inplanes = planes * Bottleneck.expansion
            layers += [Bottleneck(inplanes, planes) for _ in range(count - 1)]
            stages.append(torch.nn.Sequential(*layers))
        self.stages = torch.nn.Sequential(*stages)
        self.fc = torch.nn.Linear(inplanes, classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.stages(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def resnet_case(dynamic: bool) -> LargeCase:
    def build() -> torch.nn.Module:
        torch.manual_seed(0)
        return ResNet152().eval()

    return LargeCase("resnet152", build, lambda: (torch.randn(2, 3, 224, 224),),
                     (lambda: ({0: Dim("batch", max=64)},)) if dynamic else (lambda: None))


def large_cases() -> list[tuple[LargeCase, bool]]:
    """(case, dynamic) pairs of the --large section, smallest first."""
    return [(llama_case(8, False), False), (llama_case(8, True), True),
            (llama_case(32, False), False), (llama_case(32, True), True),
            (resnet_case(False), False), (resnet_case(True), True)]
