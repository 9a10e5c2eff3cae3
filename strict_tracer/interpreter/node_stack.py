"""The frame-stack part of a node's metadata: its `stack_trace` text, the frames' (code,
lineno) positions and the TraceLocation (`st_where`).

Consecutive nodes are mostly made under the same outer frames, each suspended at the same
call, so the outer frames' share is remembered and reused while it is still right. It is
checked on every node, not invalidated on push/pop: `interp.frames` can be replaced
(FrameView.f_locals) and a generator's frame is resumed under different callers. An outer
frame's share depends only on the frame (its code) and its ip (its line), so the same frame
objects at the same ips give the same text and positions.
"""
from __future__ import annotations

import linecache
import operator
import os

import torch

from .diagnostics.diagnose import TraceLocation
from .frame import Frame

# Frames of torch's own code (nn.Module forwards, functional wrappers) are not shown in node
# stack traces, as in torch.export's: a node's trace ends at the user's line.
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_IP = operator.attrgetter("ip")


class NodeStack:
    """Makes (stack_trace or None, positions, TraceLocation or None) for a node made now."""

    __slots__ = ("_outer", "_ips", "_with_text", "_texts", "_positions", "_text", "_all")

    def __init__(self) -> None:
        self._outer: list[Frame] = []      # the outer frames last seen (held, so never reused)
        self._ips: list[int] = []          # their ips then
        self._with_text = False
        self._texts: list[str] = []        # stack_trace of outer[:i + 1], for each i
        self._positions: list[tuple] = []  # (code, lineno) of each outer frame
        self._text = ""                    # the outer frames' stack_trace (_texts[-1])
        self._all: tuple = ()              # tuple(_positions)

    def snapshot(self, frames: list[Frame], with_text: bool) -> tuple[str | None, tuple,
                                                                      TraceLocation | None]:
        if not frames:
            return ("" if with_text else None), (), None
        outer = frames[:-1]
        ips = list(map(_IP, outer))
        # list == compares frames by identity (Frame has no __eq__)
        if ips != self._ips or outer != self._outer or with_text != self._with_text:
            self._remember(outer, ips, with_text)
        top = frames[-1]
        lineno = top.lineno
        positions = (*self._all, (top.code, lineno))
        text = None
        if with_text:
            entry = top.decoded.stack_entries.get(lineno)
            text = self._text + (_stack_entry(top, lineno) if entry is None else entry)
        return text, positions, TraceLocation.snapshot(frames, positions)

    def _remember(self, outer: list[Frame], ips: list[int], with_text: bool) -> None:
        """Keep the levels that are the same frames at the same ips as before (a call
        deeper or a return keeps all but the last), work out the others."""
        same = 0
        if with_text == self._with_text:
            seen, seen_ips = self._outer, self._ips
            end = min(len(outer), len(seen))
            while same < end and outer[same] is seen[same] and ips[same] == seen_ips[same]:
                same += 1
        del self._texts[same:], self._positions[same:]
        texts, positions = self._texts, self._positions
        text = texts[-1] if texts else ""
        for frame in outer[same:]:
            lineno = frame.lineno
            positions.append((frame.code, lineno))
            if with_text:
                entry = frame.decoded.stack_entries.get(lineno)
                text += _stack_entry(frame, lineno) if entry is None else entry
                texts.append(text)
        self._outer, self._ips, self._with_text = outer, ips, with_text
        self._text, self._all = (texts[-1] if texts else ""), tuple(positions)


def _stack_entry(frame: Frame, lineno: int | None) -> str:
    """One entry of a node's stack_trace ("" for torch's own frames), made once per line of
    a code object (every node of a layer repeats its module's lines)."""
    code = frame.code
    if code.co_filename.startswith(_TORCH_DIR):
        entry = ""
    else:
        source = linecache.getline(code.co_filename, lineno).strip() if lineno else ""
        entry = f'  File "{code.co_filename}", line {lineno}, in {code.co_name}\n    {source}\n'
    frame.decoded.stack_entries[lineno] = entry
    return entry
