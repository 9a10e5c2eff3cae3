"""Limits (README "Reliability and limits"): deep module nesting, deep and endless recursion (also through
natives calling back), long Python loops and long unrolled graphs either export or stop
with a clear error; nothing overflows the C stack. The programs run in a subprocess
(reliability_limits_cases.py), so a crash fails the test instead of killing pytest."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

import strict_tracer
from strict_tracer import GraphBreakError
from strict_tracer.trace import graph
from strict_tracer.interpreter import core, versions

# tests/support: the helper modules the child processes import or run.
HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support")


def run_cases(*cases: str, stack_kb: int | None = None) -> dict[str, dict]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [HERE, env.get("PYTHONPATH")]))
    command = [sys.executable, os.path.join(HERE, "reliability_limits_cases.py"), *cases]
    if stack_kb is not None:     # a smaller C stack than the default 8 MB
        command = ["sh", "-c", f'ulimit -s {stack_kb} && exec "$@"', "sh", *command]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"subprocess died ({proc.returncode}):\n{proc.stderr[-3000:]}"
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {r["case"]: r for r in results}


def test_recursion_and_loops_within_limits():
    """Endless recursion (plain, and through map() calling back) stops at the documented
    depth with CPython's RecursionError, on a 2 MB C stack; a 10k-iteration Python loop runs."""
    results = run_cases("recursion_forever", "recursion_through_natives", "python_loop_10k",
                        stack_kb=2048)
    for case in ("recursion_forever", "recursion_through_natives"):
        assert results[case]["error"] == "RecursionError"
        if case == "recursion_through_natives" and versions.FIXED_C_RECURSION_LIMIT:
            # CPython 3.12's own limit on C recursion stops it first (README "limits")
            assert "maximum recursion depth exceeded" in results[case]["message"]
            continue
        assert f"at most {core.MAX_DEPTH} nested Python calls" in results[case]["message"]
    assert results["python_loop_10k"]["ok"] and results["python_loop_10k"]["nodes"] == 3


@pytest.mark.slow    # ~1 min: hundreds of nested frames and 30k graph nodes
def test_deep_nesting_and_long_graphs():
    results = run_cases("nest_500", "nest_1200", "tensor_recursion_900", "unrolled_10k")
    results.update(run_cases("unrolled_20k"))      # its own process: its own peak RSS
    print(json.dumps(results, indent=1))
    assert results["nest_500"]["ok"] and results["nest_500"]["nodes"] == 503
    # torch's own recursive named_modules() fails first: said clearly
    assert results["nest_1200"]["error"] == "UserInputError"
    assert "nested too deeply" in results["nest_1200"]["message"]
    assert results["tensor_recursion_900"]["ok"]
    assert results["unrolled_10k"]["nodes"] == 10_002      # input, 10k adds, output
    assert results["unrolled_20k"]["nodes"] == 20_002
    # ~10 KB of tracing state per node: bounded, linear
    assert results["unrolled_20k"]["rss_growth_mb"] < 600


class Unbounded(torch.nn.Module):
    def forward(self, x):
        while True:
            x = x + 1


def test_graph_size_limit(monkeypatch):
    """A loop that never ends grows the graph until the documented node limit (lowered here)
    stops it with a refusal pointing at the loop."""
    monkeypatch.setattr(graph, "MAX_GRAPH_NODES", 300)
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(Unbounded(), (torch.ones(2),))
    err = info.value
    assert "limit of 300 nodes" in err.reason and "bound the loop" in err.hint
    assert err.frames[-1].source == "x = x + 1"

