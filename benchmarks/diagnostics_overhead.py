"""Cost of the diagnostics machinery: export with the bytecode log off / on, with the INFO
stage and progress records on (the observed loop counting instructions), and explain().

    .venv/bin/python benchmarks/diagnostics_overhead.py [--repeat N]

With the log off the interpreter runs its plain loop (the observer is chosen once per trace),
so "export, log off" is the number to compare against a checkout without diagnostics.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import time

import torch

import strict_tracer


class PythonHeavy(torch.nn.Module):
    """Many interpreted frames and instructions per tensor op (the interpreter's worst case)."""

    def __init__(self, depth: int = 8) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(16, 16) for _ in range(depth))

    def forward(self, x):
        for i in range(len(self.layers)):
            layer = self.layers[i]
            scale = sum(j * 0.5 for j in range(20)) / (i + 1)
            x = self._block(layer, x, scale)
        return x

    @staticmethod
    def _block(layer, x, scale):
        config = {"act": "relu", "scale": scale}
        y = layer(x)
        if config["act"] == "relu":
            y = torch.relu(y)
        return y * config["scale"] + x


def _time(fn, repeat: int) -> float:
    fn()                                   # warm the op caches
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    mod, args = PythonHeavy(), (torch.randn(4, 16),)
    log = logging.getLogger("strict_tracer.bytecode")

    off = _time(lambda: strict_tracer.export(mod, args), options.repeat)
    log.addHandler(logging.NullHandler())
    log.setLevel(logging.DEBUG)
    log.propagate = False
    on = _time(lambda: strict_tracer.export(mod, args), options.repeat)
    log.setLevel(logging.NOTSET)
    log.propagate = True
    stages = logging.getLogger("strict_tracer")     # has a NullHandler
    stages.setLevel(logging.INFO)
    stages.propagate = False
    info = _time(lambda: strict_tracer.export(mod, args), options.repeat)
    stages.setLevel(logging.NOTSET)
    stages.propagate = True
    explained = _time(lambda: strict_tracer.explain(mod, args), options.repeat)

    print(f"{'case':<32}{'median ms':>10}{'vs off':>8}")
    for name, value in (("export, log off", off), ("export, log on (NullHandler)", on),
                        ("export, INFO records on", info), ("explain()", explained)):
        print(f"{name:<32}{value * 1e3:>10.1f}{value / off:>8.2f}")


if __name__ == "__main__":
    main()
