"""The frame-stack part of node metadata (interpreter/node_stack.py, Frame.lineno's line
table) against the code it replaced, kept here: every node of a few exports gets exactly the
metadata the old per-node walk over the frames gives, and NodeStack's reuse of the outer
frames' share is checked (not just invalidated) when frames are replaced or move."""
from __future__ import annotations

import linecache
import sys
from pathlib import Path

import pytest
import torch

import strict_tracer
from strict_tracer.interpreter.core import Interpreter
from strict_tracer.interpreter.frame import make_frame
from strict_tracer.interpreter.node_stack import _TORCH_DIR, NodeStack

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ the old code path
def _old_lineno(frame) -> int:
    index = frame.ip - 1 if frame.ip > 0 else 0
    while index >= 0:
        line = frame.instrs[index].lineno
        if line is not None:
            return line
        index -= 1
    return frame.code.co_firstlineno


def _old_entry(frame, lineno) -> str:
    code = frame.code
    if code.co_filename.startswith(_TORCH_DIR):
        return ""
    source = linecache.getline(code.co_filename, lineno).strip() if lineno else ""
    return f'  File "{code.co_filename}", line {lineno}, in {code.co_name}\n    {source}\n'


def _old_stack(frames, with_text):
    """(stack_trace, positions, (instrs, index) of st_where) as node_metadata made them."""
    parts, positions = [], []
    for frame in frames:
        lineno = _old_lineno(frame)
        positions.append((frame.code, lineno))
        if with_text:
            parts.append(_old_entry(frame, lineno))
    where = None
    if frames:
        top = frames[-1]
        where = (top.instrs, top.instrs[top.ip - 1 if top.ip > 0 else 0].index)
    return ("".join(parts) if with_text else None), tuple(positions), where


def _new_stack(text, positions, location):
    where = None if location is None else (location.instrs, location.index)
    return text, positions, where


def _same(a, b) -> bool:
    text_a, pos_a, where_a = a
    text_b, pos_b, where_b = b
    return (text_a == text_b and pos_a == pos_b and
            (where_a is None) == (where_b is None) and
            (where_a is None or (where_a[0] is where_b[0] and where_a[1] == where_b[1])))


@pytest.fixture
def checked(monkeypatch):
    """Every node_metadata() compared with the old walk; yields the list of checks made."""
    seen = []
    made = Interpreter.node_metadata

    def node_metadata(self):
        meta = made(self)
        frames = list(self.frames)
        expected = _old_stack(frames, self.state.stack_traces)
        got = (meta["stack_trace"], meta["st_where"].frames if meta["st_where"] else (),
               meta["st_where"])
        got = _new_stack(*got)
        assert _same(got, expected), (got, expected)
        assert all(f.lineno == _old_lineno(f) for f in frames)
        seen.append(len(frames))
        return meta

    monkeypatch.setattr(Interpreter, "node_metadata", node_metadata)
    return seen


def _zoo(name):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from zoo import ZOO
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return ZOO.get(name)


@pytest.mark.parametrize("name,dynamic", [("gpt2", False), ("gpt2", True), ("hf_bert", False),
                                          ("hf_llama", False)])
def test_zoo_node_metadata_is_the_old_walks(checked, name, dynamic):
    case = _zoo(name)
    if case is None:
        pytest.skip(f"{name} needs transformers")
    args, kwargs = case.inputs()
    ep = strict_tracer.export(case.build(2), args, kwargs,
                              dynamic_shapes=case.dynamic() if dynamic else None)
    assert len(checked) > 20 and max(checked) >= 4
    traces = [n.meta.get("stack_trace") for n in ep.graph.nodes if n.op == "call_function"]
    assert all(traces) and any("forward" in t for t in traces)


def _gen(x):
    y = x + 1
    yield y.sin()
    yield y * 2            # resumed under another caller


class _Generators(torch.nn.Module):
    def forward(self, x):
        g = _gen(x)
        a = next(g)
        b = self.resume(g)
        c = sum(t.cos() for t in (a, b))     # a generator expression's frame
        return self.deeper(c, 3)

    def resume(self, g):
        return next(g) - 1

    def deeper(self, x, n):
        if n == 0:
            return x.tanh()
        return self.deeper(x + n, n - 1) * 2


def test_generator_and_recursive_frames_match_the_old_walk(checked):
    ep = strict_tracer.export(_Generators(), (torch.randn(3),))
    x = torch.randn(3)
    torch.testing.assert_close(ep.module()(x), _Generators()(x))
    assert len(checked) >= 15 and len(set(checked)) >= 4


# ------------------------------------------------------------------ NodeStack's reuse check
def _outer(x):
    y = x + 1
    return y


def _inner(x):
    z = x * 2
    w = z - 1
    return w


def _frames():
    return [make_frame(f, (1,), {}) for f in (_outer, _inner, _outer, _inner)]


@pytest.mark.parametrize("with_text", [True, False])
def test_node_stack_rechecks_the_outer_frames(with_text):
    stack, frames = NodeStack(), _frames()
    n = len(frames[1].instrs)

    def check(current):
        assert _same(_new_stack(*stack.snapshot(current, with_text)),
                     _old_stack(current, with_text))

    check([])
    for ips in ([1, 1, 1, 1], [1, 1, 1, 3], [1, 3, 1, 3], [2, 3, 1, n], [2, 3, 1, 0], [0, 0, 0, 0]):
        for frame, ip in zip(frames, ips):
            frame.ip = ip              # an outer frame moved: no push or pop told anyone
        check(frames)
    check(frames[:2])                                 # popped
    check(frames[:2] + [frames[3]])                   # a generator resumed under another caller
    other = make_frame(_inner, (1,), {})
    other.ip = frames[0].ip
    check(frames)
    check([other, frames[1], frames[2], frames[3]])   # another frame (and code) at the same ip
    check([frames[0]])
    check(frames)


def test_line_table_is_the_old_scan_at_every_ip():
    for frame in _frames()[:2] + [make_frame(_Generators.deeper, (None, 1, 0), {})]:
        for ip in range(len(frame.instrs) + 1):
            frame.ip = ip
            assert frame.lineno == _old_lineno(frame)
