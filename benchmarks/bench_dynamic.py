"""Export time with dynamic shapes (Dim.AUTO on every input dimension): strict_tracer vs
torch.export.export(strict=True), plus the static export for reference.

    .venv/bin/python benchmarks/bench_dynamic.py [--repeat N]

Columns are median seconds over N runs after a warm-up; "cold" clears strict_tracer's
template cache before each run. The last column checks that both exports agree on which
dimensions stay dynamic (the number of distinct symbols in the range constraints).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.export import Dim

sys.path.insert(0, str(Path(__file__).parent))
import strict_tracer  # noqa: E402
from models import cases  # noqa: E402
from strict_tracer.ops import clear_template_cache  # noqa: E402


def _time(fn, repeat: int) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _symbols(ep) -> int:
    return len({s for e in ep.range_constraints for s in e.free_symbols})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'model':<14}{'static s':>10}{'dyn cold s':>12}{'dyn warm s':>12}"
          f"{'torch dyn s':>13}{'ratio cold':>11}{'symbols':>10}")
    for name, (model, example) in cases().items():
        spec = tuple(tuple(Dim.AUTO for _ in t.shape) for t in example)

        def cold():
            clear_template_cache()
            return strict_tracer.export(model, example, dynamic_shapes=spec)

        static = _time(lambda: strict_tracer.export(model, example), args.repeat)
        ours_cold = _time(cold, args.repeat)
        ours_warm = _time(lambda: strict_tracer.export(model, example, dynamic_shapes=spec),
                          args.repeat)
        theirs = _time(lambda: torch.export.export(model, example, dynamic_shapes=spec,
                                                   strict=True), args.repeat)
        ours_ep = cold()
        ref_ep = torch.export.export(model, example, dynamic_shapes=spec, strict=True)
        print(f"{name:<14}{static:>10.3f}{ours_cold:>12.3f}{ours_warm:>12.3f}{theirs:>13.3f}"
              f"{theirs / ours_cold:>11.2f}{_symbols(ours_ep):>5} / {_symbols(ref_ep)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
