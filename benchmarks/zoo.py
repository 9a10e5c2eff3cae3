"""The benchmark zoo: transformer and CNN models at several depths, each with example inputs
and a dynamic-shapes spec (batch, and sequence for text models).

`ZOO` maps a name to a `ZooCase`; `build(depth)` makes the model with `depth` layers/blocks.
The Hugging Face models of `strict_tracer.testing.hf_models` join the zoo when `transformers`
is installed (see `_hf_cases`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch.export import Dim

VOCAB = 100
MIN_F32 = torch.finfo(torch.float32).min      # (torch.finfo in forward is issue 5's)


@dataclass
class ZooCase:
    name: str
    build: Callable[[int], torch.nn.Module]        # depth -> model (eval mode)
    inputs: Callable[[], tuple[tuple, dict]]       # example (args, kwargs)
    dynamic: Callable[[], object]                  # dynamic_shapes for those inputs
    depths: tuple[int, ...] = (2, 8)               # depths in the main table
    scales_with_depth: bool = True                 # used by the depth-scaling section


# --------------------------------------------------------------------------- GPT-2 style
class GPT2Attention(torch.nn.Module):
    """Written the way Hugging Face's GPT-2 eager attention is: fused qkv projection (addmm),
    split heads by view/permute, causal mask from a buffer, masked softmax, merge heads."""

    def __init__(self, dim: int, heads: int, max_positions: int = 128):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.c_attn = torch.nn.Linear(dim, 3 * dim)
        self.c_proj = torch.nn.Linear(dim, dim)
        self.attn_dropout = torch.nn.Dropout(0.1)
        self.resid_dropout = torch.nn.Dropout(0.1)
        mask = torch.tril(torch.ones(max_positions, max_positions, dtype=torch.bool))
        self.register_buffer("bias", mask.view(1, 1, max_positions, max_positions),
                             persistent=False)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        new_shape = x.size()[:-1] + (self.heads, self.head_dim)
        return x.view(new_shape).permute(0, 2, 1, 3)

    def _merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 1, 3).contiguous()
        return x.view(x.size()[:-2] + (self.heads * self.head_dim,))

    def _attn(self, query, key, value, attention_mask=None):
        weights = torch.matmul(query, key.transpose(-1, -2))
        weights = weights / torch.full([], value.size(-1) ** 0.5, dtype=weights.dtype,
                                       device=weights.device)
        q_len, k_len = query.size(-2), key.size(-2)
        causal = self.bias[:, :, k_len - q_len:k_len, :k_len]
        min_value = torch.full([], MIN_F32, dtype=weights.dtype, device=weights.device)
        weights = torch.where(causal, weights.to(weights.dtype), min_value)
        if attention_mask is not None:
            weights = weights + attention_mask
        weights = F.softmax(weights, dim=-1).type(value.dtype)
        return torch.matmul(self.attn_dropout(weights), value), weights

    def forward(self, hidden_states, attention_mask=None):
        query, key, value = self.c_attn(hidden_states).split(self.heads * self.head_dim, dim=2)
        query, key, value = (self._split_heads(t) for t in (query, key, value))
        out, _ = self._attn(query, key, value, attention_mask)
        return self.resid_dropout(self.c_proj(self._merge_heads(out)))


class NewGELU(torch.nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2MLP(torch.nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.c_fc = torch.nn.Linear(dim, 4 * dim)
        self.c_proj = torch.nn.Linear(4 * dim, dim)
        self.act = NewGELU()
        self.dropout = torch.nn.Dropout(0.1)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPT2Block(torch.nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(dim, eps=1e-5)
        self.attn = GPT2Attention(dim, heads)
        self.ln_2 = torch.nn.LayerNorm(dim, eps=1e-5)
        self.mlp = GPT2MLP(dim)

    def forward(self, hidden_states, attention_mask=None):
        residual = hidden_states
        hidden_states = self.attn(self.ln_1(hidden_states), attention_mask=attention_mask)
        hidden_states = hidden_states + residual
        residual = hidden_states
        return residual + self.mlp(self.ln_2(hidden_states))


class GPT2(torch.nn.Module):
    def __init__(self, layers: int = 2, dim: int = 64, heads: int = 4, max_positions: int = 128):
        super().__init__()
        self.wte = torch.nn.Embedding(VOCAB, dim)
        self.wpe = torch.nn.Embedding(max_positions, dim)
        self.drop = torch.nn.Dropout(0.1)
        self.h = torch.nn.ModuleList(GPT2Block(dim, heads) for _ in range(layers))
        self.ln_f = torch.nn.LayerNorm(dim, eps=1e-5)

    def forward(self, input_ids, attention_mask):
        batch, length = input_ids.shape
        position_ids = torch.arange(0, length, dtype=torch.long, device=input_ids.device)
        hidden = self.drop(self.wte(input_ids) + self.wpe(position_ids.unsqueeze(0)))
        mask = attention_mask.view(batch, -1)[:, None, None, :].to(dtype=hidden.dtype)
        mask = (1.0 - mask) * MIN_F32
        for block in self.h:
            hidden = block(hidden, attention_mask=mask)
        return self.ln_f(hidden)


def _text_inputs() -> tuple:
    ids = torch.randint(0, VOCAB, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[0, 8:] = 0
    return (ids, mask), {}


def _text_dynamic() -> tuple:
    batch, length = Dim("batch", max=64), Dim("length", max=64)
    return {0: batch, 1: length}, {0: batch, 1: length}


# --------------------------------------------------------------------------- pre-norm transformer
class Block(torch.nn.Module):
    """A pre-norm transformer block (multi-head attention through SDPA + MLP)."""

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
    def __init__(self, layers: int = 2, dim: int = 64):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, dim)
        self.blocks = torch.nn.Sequential(*(Block(dim) for _ in range(layers)))
        self.head = torch.nn.Linear(dim, VOCAB)

    def forward(self, tokens):
        return self.head(self.blocks(self.embed(tokens)))


# --------------------------------------------------------------------------- CNN
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
    def __init__(self, blocks: int = 4, channels: int = 16, classes: int = 10):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, channels, 3, padding=1)
        self.blocks = torch.nn.Sequential(*(BasicBlock(channels) for _ in range(blocks)))
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(self.pool(self.blocks(F.relu(self.stem(x)))).flatten(1))


def _seeded(make: Callable[[int], torch.nn.Module]) -> Callable[[int], torch.nn.Module]:
    def build(depth: int) -> torch.nn.Module:
        torch.manual_seed(0)
        return make(depth).eval()
    return build


ZOO: dict[str, ZooCase] = {
    "gpt2": ZooCase("gpt2", _seeded(GPT2), _text_inputs, _text_dynamic),
    "transformer": ZooCase(
        "transformer", _seeded(Transformer), lambda: ((torch.randint(0, VOCAB, (2, 16)),), {}),
        lambda: ({0: Dim("batch", max=64), 1: Dim("length", max=64)},)),
    "resnet": ZooCase(
        "resnet", _seeded(ResNet), lambda: ((torch.randn(2, 3, 32, 32),), {}),
        lambda: ({0: Dim("batch", max=64)},)),
}


def _hf_cases() -> dict[str, ZooCase]:
    """Tiny Hugging Face models (fixed depth), when `transformers` and the builders exist."""
    try:
        import transformers  # noqa: F401
        from strict_tracer.testing import hf_models
    except ImportError:
        return {}
    cases = {}
    for name, case in hf_models.CASES.items():
        def inputs(case=case):
            return (), case.inputs(*case.example_size)

        cases[f"hf_{name}"] = ZooCase(f"hf_{name}", lambda _depth, name=name: hf_models.build(name).eval(),
                                      inputs, case.dynamic, depths=(2,), scales_with_depth=False)
    return cases


ZOO.update(_hf_cases())
