"""Property: random programs of views, in-place ops and writes through views on user inputs,
a buffer and intermediates export to programs that behave exactly like eager: the same
outputs (every tensor the program touched), the same inputs and buffer after the call."""
from __future__ import annotations

import copy

import torch
from hypothesis import given, strategies as st

import strict_tracer
from conftest import EXPORTED_PROGRAMS
from support.helpers import run_and_compare_state

SHAPE = (4, 6)
N_INPUTS = 3              # x, y (user inputs) and the buffer b


def run_steps(env: list, steps: list[tuple]) -> None:
    """Apply `steps` to the tensors in `env` (new tensors are appended)."""
    for step in steps:
        kind, target = step[0], env[step[1]]
        if kind == "view":
            env.append(getattr(target, step[2])(*step[3]))
        elif kind == "item":
            env.append(getattr(target, step[2])(*step[3])[step[4]])
        elif kind == "index":
            env.append(target[step[2]])
        elif kind == "inplace":
            getattr(target, step[2])(*step[3])
        elif kind == "setitem":
            target[step[2]] = step[3]
        elif kind == "copy":
            target.copy_(env[step[2]] * 0.5 + 1)
        elif kind == "fresh":
            env.append(target * 2 + 1)
        elif kind == "clone":
            env.append(target.clone())


class Program(torch.nn.Module):
    """Runs `steps` on env = [x, y, self.b]; returns every tensor it made or touched."""

    def __init__(self, steps: list[tuple]) -> None:
        super().__init__()
        self.steps = steps
        self.register_buffer("b", torch.arange(24, dtype=torch.float32).reshape(SHAPE) / 7)

    def forward(self, x, y):
        env = [x, y, self.b]
        run_steps(env, self.steps)
        return tuple(env)


def _view_options(t: torch.Tensor) -> list[tuple]:
    shape, nd = tuple(t.shape), t.dim()
    opts: list[tuple] = []
    for d in range(nd):
        if shape[d] > 0:
            opts.append(("view", "select", (d, shape[d] - 1)))
        if shape[d] > 1:
            opts.append(("view", "narrow", (d, 1, shape[d] - 1)))
            opts.append(("index", (slice(None),) * d + (slice(0, shape[d], 2),)))
            opts.append(("item", "split", (2, d), 0))
            opts.append(("item", "unbind", (d,), shape[d] - 1))
        opts.append(("view", "unsqueeze", (d,)))
    if nd >= 2:
        opts += [("view", "transpose", (0, nd - 1)), ("view", "diagonal", ()),
                 ("view", "permute", (tuple(reversed(range(nd))),))]
    if nd == 2:
        opts.append(("view", "t", ()))
    if t.is_contiguous():
        opts += [("view", "view", (-1,)), ("view", "reshape", (shape[::-1] if nd == 2 else (-1,),))]
        if t.numel() >= 6:   # storage offsets are absolute: start where t starts
            opts.append(("view", "as_strided", ((2, 2), (1, 2), t.storage_offset() + 1)))
    if 1 in shape:
        opts.append(("view", "squeeze", (shape.index(1),)))
    return opts


_INPLACE = [("add_", (1.5,)), ("mul_", (-2.0,)), ("sub_", (0.25,)), ("clamp_", (-1.0, 1.0)),
            ("zero_", ()), ("fill_", (3.0,)), ("neg_", ()), ("relu_", ()), ("sin_", ())]


@st.composite
def programs(draw) -> list[tuple]:
    env = [torch.randn(SHAPE), torch.randn(SHAPE), Program([]).b.clone()]
    fresh_entries: set[int] = set()     # intermediates whose metadata may change in place
    steps: list[tuple] = []
    for _ in range(draw(st.integers(1, 8))):
        target = draw(st.integers(0, len(env) - 1))
        t = env[target]
        kinds = ["inplace", "fresh", "clone", "copy"]
        if t.dim() > 0:
            kinds += ["view", "view", "view", "setitem"]
        if target in fresh_entries and t.dim() >= 1:
            kinds.append("inplace_view")
        kind = draw(st.sampled_from(kinds))
        if kind == "view":
            option = draw(st.sampled_from(_view_options(t)))
            step = (option[0], target, *option[1:])
        elif kind == "inplace":
            name, args = draw(st.sampled_from(_INPLACE))
            step = ("inplace", target, name, args)
        elif kind == "inplace_view":
            name, args = draw(st.sampled_from([("unsqueeze_", (0,)), ("t_", ()) if t.dim() <= 2
                                               else ("transpose_", (0, 1))]))
            step = ("inplace", target, name, args)
        elif kind == "setitem":
            index = draw(st.sampled_from([0, slice(1, None), (Ellipsis, 0) if t.dim() > 1 else 0]))
            step = ("setitem", target, index, draw(st.sampled_from([2.5, -1.0])))
        elif kind == "copy":
            sources = [i for i, e in enumerate(env) if e.shape == t.shape]
            step = ("copy", target, draw(st.sampled_from(sources)))
        else:
            step = (kind, target)
        try:
            run_steps(env, [step])
        except RuntimeError:
            continue          # eager rejects it (e.g. an in-place op on a broadcast view)
        steps.append(step)
        if kind in ("fresh", "clone"):
            fresh_entries.add(len(env) - 1)
    return steps


@given(programs())
def test_random_mutation_programs_match_eager(steps):
    mod = Program(steps)
    args = (torch.randn(SHAPE), torch.randn(SHAPE))
    before = EXPORTED_PROGRAMS["checked"]
    ep = strict_tracer.export(copy.deepcopy(mod), args)
    assert EXPORTED_PROGRAMS["checked"] == before + 1      # the session-wide check saw it
    run_and_compare_state(mod, ep, args, calls=[((torch.randn(SHAPE), torch.randn(SHAPE)), {})])
