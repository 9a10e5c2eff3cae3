"""The bytecode log: `strict_tracer.bytecode` at DEBUG (or STRICT_TRACER_LOG=bytecode)."""
from __future__ import annotations

import functools
import logging

import pytest
import torch

import strict_tracer
from support.bytecode_expect import branch_opname
from strict_tracer import context
from strict_tracer import log_options
from strict_tracer.interpreter.core import Interpreter
from strict_tracer.trace.trace_state import TraceState
from support.helpers import marked_line

THIS_FILE = __file__
LOGGER = "strict_tracer.bytecode"


class Small(torch.nn.Module):
    def forward(self, x):
        y = x * 2  # <- mul
        return y + 1


_line = functools.partial(marked_line, THIS_FILE)


@pytest.fixture
def restore_logger():
    """Undo what STRICT_TRACER_LOG configures: the stderr handler on `strict_tracer`, levels."""
    log, root = logging.getLogger(LOGGER), logging.getLogger("strict_tracer")
    saved = [(logger, logger.level, list(logger.handlers)) for logger in (log, root)]
    yield log
    for logger, level, handlers in saved:
        logger.setLevel(level)
        logger.handlers[:] = handlers


def test_each_instruction_is_logged_with_frame_offset_line_and_stack(caplog):
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        strict_tracer.export(Small(), (torch.randn(3),))
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    line = _line("mul")
    assert f"{THIS_FILE}:{line} in forward: y = x * 2  # <- mul" in lines
    binary = next(m for m in lines if "BINARY_OP 5 (*)" in m)
    assert binary.strip().startswith(f"forward:{line} @")
    assert "stack(2): [Tensor(float32[3], %x), 2]" in binary
    assert any(m.strip().startswith("-> call Small.forward") for m in lines)
    assert any(m.strip().startswith("<- forward returns Tensor(float32[3]") for m in lines)
    # every executed instruction of forward is there, in order
    offsets = [int(m.split("@")[1].split()[0]) for m in lines if m.strip().startswith("forward:")]
    assert offsets == sorted(offsets) and len(offsets) >= 6


def test_guards_are_logged_with_their_source_line(caplog):
    def program(n):
        if n > 3:  # <- guard
            return n
        return -n

    state = TraceState(torch.nn.Module())
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        interp = Interpreter(state)
        size = state.shape_env.create_size(7, "n")
        with context.activate(interp):
            interp.call(program, (size,), {})
    guard_lines = [r.getMessage() for r in caplog.records if "guard added" in r.getMessage()]
    assert guard_lines == [f"  guard added: s0 > 3 at {THIS_FILE}:{_line('guard')} in program: "
                           "if n > 3:  # <- guard"]


def test_disabled_log_uses_the_plain_run_loop(caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER):
        interp = Interpreter(TraceState(torch.nn.Module()))
        strict_tracer.export(Small(), (torch.randn(3),))
    assert interp.observer is None
    assert not [r for r in caplog.records if r.name == LOGGER]


def test_environment_variable_turns_the_log_on(monkeypatch, capsys, restore_logger):
    monkeypatch.setenv(log_options.ENV_VAR, "bytecode")
    strict_tracer.export(Small(), (torch.randn(3),))
    err = capsys.readouterr().err
    assert f"[{LOGGER}] {THIS_FILE}:{_line('mul')} in forward: y = x * 2" in err
    assert "BINARY_OP 5 (*)" in err


def test_refusals_in_the_log_show_where_tracing_stopped(caplog):
    class Branch(torch.nn.Module):
        def forward(self, x):
            if x.sum() > 0:  # <- branch
                return x
            return -x

    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        with pytest.raises(strict_tracer.GraphBreakError):
            strict_tracer.export(Branch(), (torch.randn(3),))
    last = [r.getMessage() for r in caplog.records if r.name == LOGGER][-3:]
    assert any(branch_opname("x.sum() > 0") in m and "Tensor(" in m for m in last)
