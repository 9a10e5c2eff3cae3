"""INFO-level records of the `strict_tracer` logger: one per export stage, and progress.

`Stages` logs each stage when it ends (inputs, trace, functionalize, package) with what it
produced and how long it took; nothing is computed when the logger is not enabled for INFO
(decided once per export). `Progress` reports a long trace every PROGRESS_SECONDS: the
instructions run so far, the graph's nodes and the user line being traced. The interpreter
asks it only every few thousand instructions, from the observed run loop, which runs only
when some diagnostics are on (interpreter/diagnostics/observe.py), so the plain loop pays nothing.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any, Iterator

LOG = logging.getLogger("strict_tracer")
PROGRESS_ENV_VAR = "STRICT_TRACER_PROGRESS_SECONDS"
DEFAULT_PROGRESS_SECONDS = 2.0
_last_times: dict[str, float] = {}


def progress_seconds() -> float:
    """The interval between progress records: STRICT_TRACER_PROGRESS_SECONDS, default 2 s."""
    text = os.environ.get(PROGRESS_ENV_VAR, "")
    try:
        value = float(text) if text else DEFAULT_PROGRESS_SECONDS
    except ValueError:
        return DEFAULT_PROGRESS_SECONDS
    return value if value > 0 else DEFAULT_PROGRESS_SECONDS


def info_enabled() -> bool:
    return LOG.isEnabledFor(logging.INFO)


def last_times() -> dict[str, float]:
    """CPU seconds by stage of the last export that finished (benchmarks/bench.py reads them)."""
    return dict(_last_times)


class Stages:
    """Times the stages of one export or explain and logs each at INFO when it ends.

    CPU seconds by stage are always kept (`times`, a few clock reads per export): the stages
    logged, plus the parts timed with `part()` (solve, check), which are taken out of the
    stage they ran in."""

    def __init__(self, what: str) -> None:
        from .log_options import configure_from_environment
        configure_from_environment()        # STRICT_TRACER_LOG=info turns these records on
        self.enabled = info_enabled()
        self.what = what
        self.start = self.last = time.perf_counter()
        self.times: dict[str, float] = {}
        self._cpu = time.process_time()
        self._aside = 0.0       # CPU seconds of parts timed since the last stage ended

    def lap(self, stage: str) -> None:
        """Count the CPU time since the previous stage ended as `stage`'s, without a record."""
        cpu = time.process_time()
        self.times[stage] = self.times.get(stage, 0.0) + cpu - self._cpu - self._aside
        self._cpu, self._aside = cpu, 0.0

    def done(self, stage: str, message: str, *args: Any) -> None:
        """Log `stage: message (N ms)`; the time is since the previous stage ended."""
        self.lap(stage)
        if not self.enabled:
            return
        now = time.perf_counter()
        LOG.info(f"{stage}: {message} in %s", *args, _ms(now - self.last))
        self.last = now

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Count the CPU time of the block as `name`'s rather than the current stage's."""
        start = time.process_time()
        try:
            yield
        finally:
            spent = time.process_time() - start
            self.times[name] = self.times.get(name, 0.0) + spent
            self._aside += spent

    def finished(self) -> None:
        _last_times.clear()
        _last_times.update(self.times)
        if self.enabled:
            LOG.info("%s done in %s", self.what, _ms(time.perf_counter() - self.start))


def counted(n: int, word: str) -> str:
    """`1 frame run`, `2,048 frame runs`."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


class Progress:
    """Progress records of one long trace, at most one per interval."""

    def __init__(self, interp: Any, interval: float | None = None) -> None:
        self.interp = interp
        self.interval = progress_seconds() if interval is None else interval
        self.start = time.perf_counter()
        self.next_time = self.start + self.interval
        self.records = 0

    def check(self, instructions: int) -> None:
        """Called every few thousand instructions: log when the interval has passed."""
        now = time.perf_counter()
        if now < self.next_time:
            return
        self.next_time = now + self.interval
        self.records += 1
        interp = self.interp
        nodes = len(interp.state.graph.graph.nodes)
        where = interp.current_location()
        LOG.info("trace: still running after %.1f s: %s, %s, %d frames deep, at %s",
                 now - self.start, counted(instructions, "instruction"),
                 counted(nodes, "graph node"), len(interp.frames),
                 where if where is not None else "<outside the program>")
