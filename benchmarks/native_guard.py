"""The native-call guard's cost: export time of a mostly pure-Python forward() with the
plain-native fast path (interpreter/calls/guard.py: natives of builtin types on plain values skip
the profile hook) against the hook on every native call, in one process.

    .venv/bin/python benchmarks/native_guard.py [--iterations N] [--repeat N]

On 3.12+ sys.setprofile instruments every code object, so each guarded call costs tens of
microseconds; on 3.11 the hook is cheap and both rows should be close.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import strict_tracer  # noqa: E402
from bench import PythonLoop, count_instructions  # noqa: E402
from strict_tracer.interpreter.calls import guard  # noqa: E402


def median_seconds(model, args, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        strict_tracer.export(model, args)
        times.append(time.process_time() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    model, inputs = PythonLoop(args.iterations), (torch.randn(3),)
    strict_tracer.export(model, inputs)                      # warm-up
    instructions = count_instructions(model, inputs)
    fast_path = guard.runs_no_python
    rows = {}
    try:
        for label, check in (("hook on every native", lambda *a: False),
                             ("plain-native fast path", fast_path)) * 2:
            guard.runs_no_python = check
            rows.setdefault(label, []).append(median_seconds(model, inputs, args.repeat))
    finally:
        guard.runs_no_python = fast_path
    print(f"Python {sys.version.split()[0]}, torch {torch.__version__}: pure-Python loop of "
          f"{args.iterations} iterations, {instructions} instructions")
    for label, seconds in rows.items():
        best = min(seconds)
        print(f"  {label:24s} {best:.3f} s  {instructions / best / 1e6:.2f} M instructions/s")
    slow, fast = (min(v) for v in rows.values())
    print(f"  speed-up {slow / fast:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
