"""The library fast path (interpreter/calls/library.py): export time and interpreted instructions
of a Hugging Face-style model with the vetted stdlib functions run natively vs interpreted.

    .venv/bin/python benchmarks/library_fast_path.py [--repeat N]

The model does what real transformers code does on every forward: a config object with a
`__getattribute__` override, `inspect.signature` checks, enum lookups, `os.environ.get`,
`warnings.warn`, a dataclass ModelOutput with `__post_init__` over `dataclasses.fields`.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import enum
import functools
import inspect
import os
import statistics
import time
import typing
import warnings

import torch
from torch import nn

import strict_tracer
from strict_tracer.interpreter import HANDLERS, core
from strict_tracer.interpreter import decode as decode_module


class AttnImpl(str, enum.Enum):
    EAGER = "eager"
    SDPA = "sdpa"


class Config:
    attribute_map = {"hidden_size": "d_model"}

    def __init__(self) -> None:
        self.d_model, self.num_heads, self.num_layers = 64, 4, 4
        self.output_hidden_states = True
        self._attn_implementation = "sdpa"

    def __getattribute__(self, key):
        if key != "attribute_map" and key in super().__getattribute__("attribute_map"):
            key = super().__getattribute__("attribute_map")[key]
        return super().__getattribute__(key)


class ModelOutput(collections.OrderedDict):
    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None:
                self[field.name] = value

    def to_tuple(self):
        return tuple(self[k] for k in self.keys())


@dataclasses.dataclass
class Output(ModelOutput):
    last_hidden_state: typing.Optional[torch.Tensor] = None
    hidden_states: typing.Optional[tuple] = None


class Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x, **kwargs):
        b, t, d = x.shape
        h = self.config.num_heads
        impl = AttnImpl(self.config._attn_implementation)
        if "output_attentions" in kwargs and "output_attentions" not in inspect.signature(self.forward).parameters:
            warnings.warn("output_attentions is ignored")
        if os.environ.get("LIBRARY_FAST_PATH_DEBUG"):
            print("debug")
        q, k, v = self.qkv(x).view(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4).unbind(0)
        if impl is AttnImpl.SDPA:
            o = nn.functional.scaled_dot_product_attention(q, k, v)
        else:
            o = (q @ k.transpose(-1, -2)).softmax(-1) @ v
        return self.out(o.transpose(1, 2).reshape(b, t, d))


class Layer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attn = Attention(config)
        self.norm = nn.LayerNorm(config.hidden_size)
        self.mlp = nn.Sequential(nn.Linear(config.hidden_size, 128), nn.GELU(),
                                 nn.Linear(128, config.hidden_size))

    def forward(self, x, **kwargs):
        x = x + self.attn(self.norm(x), **kwargs)
        return x + self.mlp(x)


class HFStyleModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.config = Config()
        self.layers = nn.ModuleList(Layer(self.config) for _ in range(self.config.num_layers))

    def forward(self, x):
        hidden = () if self.config.output_hidden_states else None
        for layer in self.layers:
            hidden = hidden + (x,) if hidden is not None else None
            x = layer(x, output_attentions=False)
        return Output(last_hidden_state=x, hidden_states=hidden).to_tuple()


def instructions_by_file(model, inputs) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    originals = dict(HANDLERS)

    def counting(handler):
        @functools.wraps(handler)
        def run(interp, frame, instr):
            counts[os.path.basename(frame.code.co_filename)] += 1
            return handler(interp, frame, instr)
        return run

    def unbind():
        for decoded in decode_module._cache.values():
            for instr in decoded.instrs:
                instr.handler = None
    for name, handler in originals.items():
        HANDLERS[name] = counting(handler)
    unbind()
    try:
        strict_tracer.export(model, inputs)
    finally:
        HANDLERS.update(originals)
        unbind()
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    model, inputs = HFStyleModel().eval(), (torch.randn(2, 8, 64),)
    torch.testing.assert_close(strict_tracer.export(model, inputs).module()(*inputs), model(*inputs))
    vetted = core.NATIVE_LIBRARY_FUNCTIONS
    samples: dict[str, list[float]] = {"native": [], "interpreted": []}
    counts = {}
    try:
        for mode in ("native", "interpreted"):
            core.NATIVE_LIBRARY_FUNCTIONS = vetted if mode == "native" else frozenset()
            counts[mode] = instructions_by_file(model, inputs)
        for _ in range(args.repeat):
            for mode in ("native", "interpreted"):
                core.NATIVE_LIBRARY_FUNCTIONS = vetted if mode == "native" else frozenset()
                start = time.process_time()
                strict_tracer.export(model, inputs)
                samples[mode].append(time.process_time() - start)
    finally:
        core.NATIVE_LIBRARY_FUNCTIONS = vetted
    for mode in ("native", "interpreted"):
        top = ", ".join(f"{f} {n}" for f, n in counts[mode].most_common(4))
        print(f"{mode:<12} export CPU s median {statistics.median(samples[mode]):.3f}   "
              f"instructions {sum(counts[mode].values()):>6} ({top})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
