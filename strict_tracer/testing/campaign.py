"""Long differential fuzzing campaigns: `python -m strict_tracer.testing.campaign`.

Runs `check_program` on many generated programs without stopping at the first failure and
writes a JSON summary: programs run, exported/refused/failed counts, invalid programs (eager
fails on them too; the export must fail as well, any exception), the refusal rate, a
histogram of refusal reasons (category + first line of the reason), and every failure with
its source and traceback (shrink one by rerunning `tests/test_fuzz_programs.py` under the
thorough profile, or by hand, and keep it in `tests/test_fuzz_regressions.py`).

    python -m strict_tracer.testing.campaign --examples 1000 --mode static --seed 1 --out run.json

Failures are classed: "wrong" (a difference from eager: AssertionError), "hang" (a program
over the per-program time limit, --timeout seconds, stopped by SIGALRM) and "crash"
(any other exception).
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import signal
import sys
import time
import traceback
import warnings

from hypothesis import HealthCheck, given, seed as hypothesis_seed, settings

from .differential import check_program
from .programs import programs


def refusal_key(refusal) -> str:
    """A histogram key: the category and the reason with numbers and names blurred."""
    reason = str(getattr(refusal, "reason", refusal)).splitlines()[0]
    reason = re.sub(r"\b(v|x|fn|buf|lin)\d+\b", r"\1N", reason)
    reason = re.sub(r"\d+", "N", reason)
    return f"{getattr(refusal, 'category', '?')}: {reason[:140]}"


class ProgramTimeout(BaseException):
    """One program ran past the campaign's time limit (a BaseException: nothing catches it)."""


def _on_alarm(signum, frame):
    raise ProgramTimeout()


def _failure_kind(exc: BaseException) -> str:
    if isinstance(exc, ProgramTimeout):
        return "hang"
    return "wrong" if isinstance(exc, AssertionError) else "crash"


# mode -> (batches, dynamic, named batch Dim): "small-sizes" declares the batch as a named Dim
# (range from 0) and checks batches 1 and 0 too.
MODES = {"static": ((4,), False, False), "dynamic": ((4, 7, 2), True, False),
         "small-sizes": ((4, 7, 2, 1, 0), True, True)}


def _check_with_timeout(program, mode: str, timeout: float):
    batches, dynamic, named = MODES[mode]
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return check_program(program, batches=batches, dynamic=dynamic, named_batch=named)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def run(examples: int, mode: str, seed: int, max_statements: int = 8,
        timeout: float = 300.0) -> dict:
    stats: dict = {"mode": mode, "seed": seed, "run": 0,
                   "exported": 0, "refused": 0, "failed": 0, "invalid": 0,
                   "wrong": 0, "crash": 0, "hang": 0, "timeout_seconds": timeout,
                   "refusals": collections.Counter(), "invalid_examples": [],
                   "refused_examples": {}, "failures": []}

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=["generate"])
    @given(programs(max_statements=max_statements))
    def one(program):
        stats["run"] += 1
        if stats["run"] % 100 == 0:
            print(f"{stats['run']} run: {stats['exported']} exported, {stats['refused']} refused, "
                  f"{stats['failed']} failed ({stats['wrong']} wrong, {stats['crash']} crash, "
                  f"{stats['hang']} hang)", file=sys.stderr, flush=True)
        try:
            outcome = _check_with_timeout(program, mode, timeout)
        except (Exception, ProgramTimeout) as exc:  # noqa: BLE001 - recorded, not raised
            kind = _failure_kind(exc)
            stats["failed"] += 1
            stats[kind] += 1
            stats["failures"].append({"kind": kind, "source": program.source,
                                      "error": f"{type(exc).__name__}: {exc}"[:2000],
                                      "traceback": traceback.format_exc()[-4000:]})
            return
        if outcome.exported:
            stats["exported"] += 1
        elif outcome.eager_error is not None:
            stats["invalid"] += 1       # eager fails on it too (the generator's, not ours)
            if len(stats["invalid_examples"]) < 5:
                stats["invalid_examples"].append({"source": program.source,
                                                  "eager_error": outcome.eager_error[:500]})
        else:
            stats["refused"] += 1
            key = refusal_key(outcome.refusal)
            stats["refusals"][key] += 1
            if stats["refusals"][key] <= 2:
                stats["refused_examples"].setdefault(key, []).append(program.source)

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            one()
    finally:
        signal.signal(signal.SIGALRM, previous)
    stats["refusal_rate"] = stats["refused"] / max(stats["run"] - stats["invalid"], 1)
    stats["refusals"] = dict(stats["refusals"].most_common())
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--mode", choices=list(MODES), default="static")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-statements", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds one program may take (export and every comparison)")
    parser.add_argument("--out", default="-")
    ns = parser.parse_args(argv)
    start = time.time()
    stats = run(ns.examples, ns.mode, ns.seed, ns.max_statements, ns.timeout)
    stats["seconds"] = round(time.time() - start, 1)
    text = json.dumps(stats, indent=1)
    if ns.out == "-":
        print(text)
    else:
        with open(ns.out, "w") as f:
            f.write(text)
        print(f"{stats['mode']}: run {stats['run']} exported {stats['exported']} refused "
              f"{stats['refused']} failed {stats['failed']} (wrong {stats['wrong']}, crash "
              f"{stats['crash']}, hang {stats['hang']}) invalid {stats['invalid']} "
              f"in {stats['seconds']}s -> {ns.out}")
    return 1 if stats["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
