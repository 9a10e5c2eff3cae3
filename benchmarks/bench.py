"""Export-time benchmark: strict_tracer vs torch.export (strict=True and strict=False).

    .venv/bin/python benchmarks/bench.py [--quick] [--repeat N] [--warm] [--only NAME,...]
    .venv/bin/python benchmarks/bench.py --large [--only NAME,...] [--repeat N]

One process, four sections (`--large` runs the large-model section instead, see large_section):
1. the zoo (benchmarks/zoo.py) at a few depths, static and dynamic (batch, and sequence for
   text models): each (model, mode) is exported once by every exporter as a warm-up, then N
   interleaved rounds (ours, strict=True, strict=False); medians, ratios ours/theirs (< 1
   means we are faster) and their geometric means;
2. export time against depth (GPT-2 style, 2/8/32 layers): per-layer cost from the slope and a
   linearity ratio (per-layer cost 8->32 over 2->8; 1.0 is linear);
3. peak Python memory (tracemalloc) of one export;
4. the interpreter alone: bytecode instructions per second on a pure-Python loop in forward().

Times are process CPU seconds (time.process_time), steadier than wall time on a shared machine.
Ours runs "cold" by default: strict_tracer's op-template cache is cleared before every run, as
in the first export of a process (`--warm` keeps it).
"""
from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).parent))
import strict_tracer  # noqa: E402
from strict_tracer.ops import clear_template_cache  # noqa: E402
from strict_tracer import stage_log  # noqa: E402
from large import large_cases  # noqa: E402
from zoo import ZOO, ZooCase  # noqa: E402

EXPORTERS = ("ours", "strict", "nonstrict")


def exporter(name: str, warm: bool) -> Callable:
    def ours(model, args, kwargs, dynamic):
        if not warm:
            clear_template_cache()
        return strict_tracer.export(model, args, kwargs, dynamic_shapes=dynamic)

    def torch_export(strict: bool) -> Callable:
        def run(model, args, kwargs, dynamic):
            return torch.export.export(model, args, kwargs, dynamic_shapes=dynamic, strict=strict)
        return run

    return {"ours": ours, "strict": torch_export(True), "nonstrict": torch_export(False)}[name]


def cpu_seconds(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.process_time()
    fn()
    return time.process_time() - start


def interleaved(case: ZooCase, depth: int, dynamic: bool, repeat: int, warm: bool,
                names=EXPORTERS, warmup: bool = True) -> dict[str, float]:
    """Median CPU seconds per exporter: a warm-up export each, then `repeat` rounds."""
    model = case.build(depth)
    args, kwargs = case.inputs()
    spec = case.dynamic() if dynamic else None
    runs = {name: (lambda f=exporter(name, warm): f(model, args, kwargs, spec)) for name in names}
    if warmup:
        for run in runs.values():
            run()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(repeat):
        for name, run in runs.items():
            samples[name].append(cpu_seconds(run))
    return {name: statistics.median(s) for name, s in samples.items()}


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def zoo_section(cases: list[ZooCase], depths_of, repeat: int, warm: bool) -> None:
    print(f"\n== zoo: CPU seconds, median of {repeat} interleaved runs after a warm-up "
          f"(ours {'warm' if warm else 'cold'}) ==")
    print(f"{'model':<16}{'mode':<9}{'ours':>8}{'strict':>8}{'nonstrict':>10}"
          f"{'ours/strict':>13}{'ours/nonstrict':>16}")
    ratios: dict[str, list[tuple[float, float]]] = {"static": [], "dynamic": []}
    for case in cases:
        for depth in depths_of(case):
            for mode in ("static", "dynamic"):
                t = interleaved(case, depth, mode == "dynamic", repeat, warm)
                r = (t["ours"] / t["strict"], t["ours"] / t["nonstrict"])
                ratios[mode].append(r)
                label = f"{case.name}-{depth}" if case.scales_with_depth else case.name
                print(f"{label:<16}{mode:<9}{t['ours']:>8.3f}{t['strict']:>8.3f}"
                      f"{t['nonstrict']:>10.3f}{r[0]:>13.3f}{r[1]:>16.3f}", flush=True)
    for mode, rs in ratios.items():
        print(f"geomean {mode:<8} ours/strict {geomean([r[0] for r in rs]):.3f}   "
              f"ours/nonstrict {geomean([r[1] for r in rs]):.3f}")


def depth_section(repeat: int, warm: bool, depths=(2, 8, 32)) -> None:
    case = ZOO["gpt2"]
    print(f"\n== export time vs depth: {case.name}, static, CPU seconds (median of {repeat}) ==")
    times = {d: interleaved(case, d, False, repeat, warm, names=("ours", "strict"), warmup=False)
             for d in depths}
    print(f"{'layers':<8}{'ours':>8}{'strict':>8}")
    for d in depths:
        print(f"{d:<8}{times[d]['ours']:>8.3f}{times[d]['strict']:>8.3f}")
    lo, mid, hi = depths
    for name in ("ours", "strict"):
        first = (times[mid][name] - times[lo][name]) / (mid - lo)
        second = (times[hi][name] - times[mid][name]) / (hi - mid)
        print(f"{name:<8} per layer {1000 * second:7.1f} ms ({mid}->{hi}), "
              f"{1000 * first:7.1f} ms ({lo}->{mid}); linearity {second / first:.2f}")
    per_layer = {n: (times[hi][n] - times[lo][n]) / (hi - lo) for n in ("ours", "strict")}
    print(f"per-layer ratio ours/strict ({lo}->{hi}): {per_layer['ours'] / per_layer['strict']:.3f}")


def memory_section(depth: int) -> None:
    case = ZOO["gpt2"]
    model = case.build(depth)
    args, kwargs = case.inputs()
    print(f"\n== peak Python memory of one export (tracemalloc): {case.name}-{depth} ==")
    for mode in ("static", "dynamic"):
        spec = case.dynamic() if mode == "dynamic" else None
        peaks = []
        for name in EXPORTERS:
            run = exporter(name, warm=False)
            gc.collect()
            tracemalloc.start()
            run(model, args, kwargs, spec)
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()
        print(f"{mode:<8}" + "".join(f"{n} {p:6.1f} MiB   " for n, p in zip(EXPORTERS, peaks)))


class PythonLoop(torch.nn.Module):
    """A forward() that is mostly pure Python: the interpreter's own speed."""

    def __init__(self, iterations: int):
        super().__init__()
        self.iterations = iterations

    def forward(self, x):
        total = 0
        table = {"a": 1, "b": 2}
        for i in range(self.iterations):
            if i % 3 == 0:
                total += table["a"] * i
            else:
                total -= (i >> 1) + table.get("b", 0)
        return x + total


def count_instructions(model, args) -> int:
    from strict_tracer.interpreter import HANDLERS
    from strict_tracer.interpreter import decode
    count = 0
    originals = dict(HANDLERS)

    def counting(handler):
        def run(interp, frame, instr):
            nonlocal count
            count += 1
            return handler(interp, frame, instr)
        return run

    def unbind():
        for decoded in decode._cache.values():
            for instr in decoded.instrs:
                instr.handler = None
    HANDLERS.update({name: counting(h) for name, h in originals.items()})
    unbind()
    try:
        strict_tracer.export(model, args)
    finally:
        HANDLERS.update(originals)
        unbind()
    return count


def interpreter_section(iterations: int, repeat: int) -> None:
    model, args = PythonLoop(iterations), (torch.randn(3),)
    instructions = count_instructions(model, args)
    ours = statistics.median(cpu_seconds(lambda: strict_tracer.export(model, args))
                             for _ in range(repeat))
    eager = statistics.median(cpu_seconds(lambda: model(*args)) for _ in range(repeat))
    print(f"\n== interpreter: pure-Python loop of {iterations} iterations in forward() ==")
    print(f"{instructions} instructions in {ours:.3f} s: {instructions / ours / 1e6:.2f} M "
          f"instructions/s (CPython runs the same forward {ours / eager:.0f}x faster)")


def large_section(repeat: int, only: set[str] | None) -> None:
    """Llama-3-8B-shaped decoders on the meta device (8 and 32 layers, static and with a
    dynamic sequence up to 4096) and a ResNet-152-depth CNN, each exported once by every
    exporter as a warm-up and then `repeat` interleaved rounds; medians, ratios, and ours by
    stage (CPU seconds of the last timed export: stage_log.last_times())."""
    print(f"\n== large models: CPU seconds, median of {repeat} interleaved runs after a warm-up "
          f"(ours warm) ==")
    print(f"{'model':<22}{'mode':<9}{'ours':>8}{'strict':>8}{'nonstrict':>10}"
          f"{'ours/strict':>13}{'ours/nonstrict':>16}   ours by stage")
    for case, dynamic in large_cases():
        mode = "dynamic" if dynamic else "static"
        if only and case.name not in only and f"{case.name}-{mode}" not in only:
            continue
        model, args = case.build(), case.inputs()
        spec = case.dynamic()
        runs = {name: (lambda f=exporter(name, True): f(model, args, {}, spec)) for name in EXPORTERS}
        for run in runs.values():
            run()
        samples: dict[str, list[float]] = {name: [] for name in EXPORTERS}
        for _ in range(repeat):
            for name, run in runs.items():
                samples[name].append(cpu_seconds(run))
                if name == "ours":
                    stages = stage_log.last_times()
        t = {name: statistics.median(s) for name, s in samples.items()}
        by_stage = " ".join(f"{k} {v:.3f}" for k, v in stages.items())
        print(f"{case.name:<22}{mode:<9}{t['ours']:>8.3f}{t['strict']:>8.3f}{t['nonstrict']:>10.3f}"
              f"{t['ours'] / t['strict']:>13.3f}{t['ours'] / t['nonstrict']:>16.3f}   {by_stage}",
              flush=True)
        del model, runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="depth 2 only in the zoo, fewer runs (about 1-2 minutes)")
    parser.add_argument("--repeat", type=int, help="timed runs per measurement")
    parser.add_argument("--warm", action="store_true", help="keep ours' template cache")
    parser.add_argument("--only", help="comma-separated zoo names (with --large: large-model "
                                           "names, e.g. llama3-8b-32 or llama3-8b-32-dynamic)")
    parser.add_argument("--large", action="store_true",
                        help="only the large models (Llama-3-8B shape, ResNet-152; long)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.large:
        print(f"torch {torch.__version__}, large models")
        large_section(args.repeat or 3, set(args.only.split(",")) if args.only else None)
        return 0
    repeat = args.repeat or (3 if args.quick else 5)
    cases = [ZOO[n] for n in args.only.split(",")] if args.only else list(ZOO.values())
    print(f"torch {torch.__version__}, {'quick' if args.quick else 'full'} run, "
          f"zoo: {', '.join(c.name for c in cases)}")
    zoo_section(cases, (lambda c: c.depths[:1]) if args.quick else (lambda c: c.depths),
                repeat, args.warm)
    depth_section(1 if args.quick else max(1, repeat // 2), args.warm)
    memory_section(8)
    interpreter_section(2000 if args.quick else 10000, repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
