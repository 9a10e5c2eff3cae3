"""Logging as PyTorch users expect it: INFO records of the `strict_tracer` logger for every
export stage and for the progress of long traces; STRICT_TRACER_LOG's filters, line limit and
summary line for the bytecode log."""
from __future__ import annotations

import functools
import logging
import re

import pytest
import torch

import strict_tracer
from strict_tracer import stage_log
from strict_tracer import log_options
from support.helpers import marked_line

THIS_FILE = __file__
ROOT = "strict_tracer"


_line = functools.partial(marked_line, THIS_FILE)


class Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 3)

    def forward(self, x):
        return torch.nn.functional.relu(self.lin(x)) * 2


def _messages(caplog, name: str = ROOT) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == name]


@pytest.fixture
def restore_loggers():
    loggers = [logging.getLogger(name) for name in (ROOT, log_options.LOG.name)]
    saved = [(logger, logger.level, list(logger.handlers)) for logger in loggers]
    yield
    for logger, level, handlers in saved:
        logger.setLevel(level)
        logger.handlers[:] = handlers


def test_info_reports_every_stage_with_its_time(caplog):
    with caplog.at_level(logging.INFO, logger=ROOT):
        ep = strict_tracer.export(Small(), (torch.randn(2, 3),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    messages = _messages(caplog)
    assert len(messages) == 5
    assert [m.split(":")[0] for m in messages[:4]] == ["inputs", "trace", "functionalize",
                                                       "package"]
    assert messages[-1].startswith("export of Small done in ")
    timed = re.compile(r".* in \d+\.\d (ms|s)$")
    assert all(timed.match(m) for m in messages), messages
    assert messages[0].startswith("inputs: 1 tensor, 0 other values, 1 size symbol in ")
    trace = re.match(r"trace: ([\d,]+) instructions in ([\d,]+) frame runs, (\d+) ops, (\d+) "
                     r"guards? in ", messages[1])
    assert trace, messages[1]
    instructions, frames, ops = (int(trace.group(i).replace(",", "")) for i in (1, 2, 3))
    assert instructions > 20 and frames >= 3        # forward, Linear.forward, F.relu
    assert ops == 3                                 # linear, relu, mul
    nodes = len(ep.graph.nodes)
    assert messages[3].startswith(f"package: ExportedProgram with {nodes} graph nodes, "
                                  "1 range constraint in ")


def test_nothing_is_logged_and_the_plain_loop_runs_below_info(caplog):
    with caplog.at_level(logging.WARNING, logger=ROOT):
        strict_tracer.export(Small(), (torch.randn(2, 3),))
    assert _messages(caplog) == []


class Loop(torch.nn.Module):
    def forward(self, x):
        total = 0
        for i in range(20_000):  # <- loop_head
            total = total + i % 7  # <- loop_body
        return x + total


def test_a_long_trace_reports_its_progress(caplog, monkeypatch):
    """Progress records come every STRICT_TRACER_PROGRESS_SECONDS (2 s by default, so a 5 s
    trace writes at least two); a short interval keeps this test fast."""
    monkeypatch.setenv(stage_log.PROGRESS_ENV_VAR, "0.01")
    with caplog.at_level(logging.INFO, logger=ROOT):
        strict_tracer.export(Loop(), (torch.randn(2),))
    progress = [m for m in _messages(caplog) if m.startswith("trace: still running")]
    assert progress
    pattern = re.compile(r"trace: still running after \d+\.\d s: ([\d,]+) instructions, "
                         r"([\d,]+) graph nodes?, (\d+) frames deep, at (.*)")
    counts = []
    for message in progress:
        match = pattern.match(message)
        assert match, message
        counts.append(int(match.group(1).replace(",", "")))
        assert any(match.group(4).startswith(f"{THIS_FILE}:{_line(marker)} in forward")
                   for marker in ("loop_head", "loop_body")), message
    assert counts == sorted(counts) and counts[0] > 0


def test_progress_interval_setting(monkeypatch):
    monkeypatch.setenv(stage_log.PROGRESS_ENV_VAR, "0.5")
    assert stage_log.progress_seconds() == 0.5
    for bad in ("", "soon", "-1"):
        monkeypatch.setenv(stage_log.PROGRESS_ENV_VAR, bad)
        assert stage_log.progress_seconds() == stage_log.DEFAULT_PROGRESS_SECONDS == 2.0


def helper(t):
    return t * 3  # <- helper


class Calls(torch.nn.Module):
    def forward(self, x):
        y = torch.nn.functional.relu(x)  # <- calls_library
        return helper(y) + 1


def _env_log(monkeypatch, capsys, value: str) -> list[str]:
    monkeypatch.setenv(log_options.ENV_VAR, value)
    strict_tracer.export(Calls(), (torch.randn(3),))
    return capsys.readouterr().err.splitlines()


def test_env_log_user_frames_only(monkeypatch, capsys, restore_loggers):
    lines = _env_log(monkeypatch, capsys, "bytecode,user")
    assert any(f"{THIS_FILE}:{_line('calls_library')} in forward" in l for l in lines)
    assert any(f"{THIS_FILE}:{_line('helper')} in helper" in l for l in lines)
    assert not any("functional.py" in l for l in lines)
    summary = lines[-1]
    assert summary.startswith("[strict_tracer.bytecode] summary: ")
    assert re.search(r"[1-9][\d,]* frame runs? filtered out \(user\)", summary), summary


def test_env_log_one_function(monkeypatch, capsys, restore_loggers):
    lines = _env_log(monkeypatch, capsys, "bytecode,only=helper")
    body = [l for l in lines if "summary:" not in l]
    assert body and all("helper" in l or l.split("] ")[1].lstrip().startswith("helper:")
                        for l in body), body
    assert any("-> call helper" in l for l in body)
    assert not any("in forward" in l for l in body)
    assert "(only=helper)" in lines[-1]


def test_env_log_line_limit_and_summary(monkeypatch, capsys, restore_loggers):
    full = _env_log(monkeypatch, capsys, "bytecode")
    limited = _env_log(monkeypatch, capsys, "bytecode,limit=5")
    assert limited[:5] == full[:5] and len(limited) == 6
    written = len(full) - 1
    runs = re.match(r"\[strict_tracer.bytecode\] summary: ([\d,]+) instructions in ([\d,]+) "
                    r"frame runs, ([\d,]+) lines written$", full[-1])
    assert runs and int(runs.group(3).replace(",", "")) == written, full[-1]
    assert limited[-1] == (f"[strict_tracer.bytecode] summary: {runs.group(1)} instructions in "
                           f"{runs.group(2)} frame runs, 5 lines written; {written - 5:,} more "
                           "lines not written (limit=5)")


def test_env_info_turns_the_stage_records_on(monkeypatch, capsys, restore_loggers):
    monkeypatch.setenv(log_options.ENV_VAR, "info")
    strict_tracer.export(Calls(), (torch.randn(3),))
    lines = capsys.readouterr().err.splitlines()
    assert [l.split(":")[0] for l in lines[:-1]] == [
        "[strict_tracer] inputs", "[strict_tracer] trace", "[strict_tracer] functionalize",
        "[strict_tracer] package"]
    assert lines[-1].startswith("[strict_tracer] export of Calls done in ")


def test_unknown_env_items_warn(monkeypatch):
    with pytest.warns(UserWarning, match="STRICT_TRACER_LOG: ignoring 'verbose'"):
        options = log_options.parse_options("bytecode, verbose ,only=a,only=b,limit=7")
    assert (options.bytecode, options.names, options.limit) == (True, frozenset({"a", "b"}), 7)
