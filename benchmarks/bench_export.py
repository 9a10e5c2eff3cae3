"""Export time of strict_tracer vs torch.export.export(strict=True), in one process.

    .venv/bin/python benchmarks/bench_export.py [--repeat N]

Each exporter runs once to warm up (imports), then N timed runs; the table shows median
seconds and the ratio torch.export / strict_tracer (> 1 means we are faster). "cold" clears
strict_tracer's per-process template cache before every run (the first export of a model in a
process); "warm" keeps it (re-exporting, or models whose layers repeat).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'model':<14}{'ours cold s':>12}{'ours warm s':>12}{'torch.export s':>15}"
          f"{'ratio cold':>11}{'ratio warm':>11}")
    for name, (model, example) in cases().items():
        def cold():
            clear_template_cache()
            strict_tracer.export(model, example)

        ours_cold = _time(cold, args.repeat)
        ours_warm = _time(lambda: strict_tracer.export(model, example), args.repeat)
        theirs = _time(lambda: torch.export.export(model, example, strict=True), args.repeat)
        print(f"{name:<14}{ours_cold:>12.3f}{ours_warm:>12.3f}{theirs:>15.3f}"
              f"{theirs / ours_cold:>11.2f}{theirs / ours_warm:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
