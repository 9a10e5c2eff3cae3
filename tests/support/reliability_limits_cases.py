"""Programs at strict_tracer's limits, run in a subprocess by test_reliability_limits.py (a C
stack overflow kills that process, not pytest). `python reliability_limits_cases.py CASE...`
prints one JSON line per case: its outcome, graph size, time and peak RSS growth."""
from __future__ import annotations

import json
import resource
import sys
import time

import torch

import strict_tracer


class Leaf(torch.nn.Module):
    def forward(self, x):
        return x + 1


class Level(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x) * 2


def nested(depth: int) -> torch.nn.Module:
    mod = Leaf()
    for _ in range(depth):        # built iteratively: eager __init__ recursion is not tested
        mod = Level(mod)
    return mod


def forever(k):
    return forever(k + 1)


def through_natives(k):
    return list(map(through_natives, [k + 1]))


def tensor_recursion(x, k):
    return x if k == 0 else tensor_recursion(x + 1, k - 1)


class Call(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def python_loop(x, n=10_000):
    total = 0
    for i in range(n):
        total += i % 7
    return x + total


def unrolled(x, n):
    for _ in range(n):
        x = x + 1
    return x


CASES = {
    "nest_500": lambda: nested(500),
    "nest_1200": lambda: nested(1200),
    "recursion_forever": lambda: Call(lambda x: x + forever(0)),
    "recursion_through_natives": lambda: Call(lambda x: x + through_natives(0)[0]),
    "tensor_recursion_900": lambda: Call(lambda x: tensor_recursion(x, 900)),
    "python_loop_10k": lambda: Call(python_loop),
    "unrolled_10k": lambda: Call(lambda x: unrolled(x, 10_000)),
    "unrolled_20k": lambda: Call(lambda x: unrolled(x, 20_000)),
}


def run(case: str) -> dict:
    mod = CASES[case]()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = {"case": case}
    try:
        ep = strict_tracer.export(mod, (torch.ones(2),))
        result["nodes"] = len(ep.graph.nodes)
        result["ok"] = True
    except BaseException as exc:   # noqa: BLE001 - reported to the test
        result["ok"] = False
        result["error"] = type(exc).__name__
        result["message"] = str(exc).splitlines()[0][:500]
    result["seconds"] = round(time.perf_counter() - start, 2)
    result["rss_growth_mb"] = round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024)
    return result


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(json.dumps(run(name)), flush=True)
