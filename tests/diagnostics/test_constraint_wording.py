"""ConstraintViolationError as torch.export words it, checked against torch.export's own
message for the same program: the dims named (sorted), the order of the lines, the
"Specializations unexpectedly required" block, and a "Suggested fixes" block that
`refine_dynamic_shapes_from_suggested_fixes` turns into a spec that exports."""
import re

import pytest
import torch
from torch.export import Dim, dims
from torch.export.dynamic_shapes import refine_dynamic_shapes_from_suggested_fixes

import strict_tracer


def _both(model, args, spec) -> tuple[str, str]:
    with pytest.raises(torch._dynamo.exc.UserError) as ours:
        strict_tracer.export(model, args, dynamic_shapes=spec)
    assert isinstance(ours.value, torch.fx.experimental.symbolic_shapes.ConstraintViolationError)
    with pytest.raises(torch._dynamo.exc.UserError) as theirs:
        torch.export.export(model, args, dynamic_shapes=spec, strict=True)
    return ours.value.args[0], theirs.value.args[0]


def _fixes(message: str) -> list[str]:
    block = message.split("Suggested fixes:\n")[1].split("\n\n")[0]
    return [line.strip() for line in block.splitlines()]


def _header(message: str) -> str:
    return re.search(r"Constraints violated \(.*?\)!", message).group(0)


def _subjects(message: str) -> list[str]:
    """Whom each line is about: `Not all values of K`, `The values of dy`, ..."""
    return re.findall(r"^  - (?:Not all values of|The values of|You marked) (\S+)", message,
                      re.MULTILINE)


class Windowed(torch.nn.Module):
    def forward(self, x, y, z):
        if x.shape[0] >= 5 and x.shape[0] <= 36 and y.shape[0] % 3 == 0:
            return x + y[1:] + z[3:]


def test_a_divisibility_guard_gives_a_new_root_shared_by_the_related_dims():
    args = (torch.randn(11), torch.randn(12), torch.randn(14))
    dx, dy, dz = dims("dx", "dy", "dz")
    spec = {"x": (dx,), "y": (dy,), "z": (dz,)}
    ours, theirs = _both(Windowed(), args, spec)
    assert _fixes(ours) == _fixes(theirs) == [
        "_dx = Dim('_dx', max=12)", "dx = 3*_dx - 1", "dy = 3*_dx", "dz = 3*_dx + 2"]
    assert _header(ours) == _header(theirs) == "Constraints violated (dx, dy, dz)!"
    assert _subjects(ours) == _subjects(theirs)   # relations, then the guard, then the range
    refined = refine_dynamic_shapes_from_suggested_fixes(ours, spec)
    ep = strict_tracer.export(Windowed(), args, dynamic_shapes=refined)
    for n in (2, 5, 11):
        fresh = (torch.randn(3 * n - 1), torch.randn(3 * n), torch.randn(3 * n + 2))
        assert torch.equal(ep.module()(*fresh), Windowed()(*fresh))


class Guarded(torch.nn.Module):
    def forward(self, x, y):
        if x.shape[0] < 16 and y.shape[1] % 3 == 0:
            return torch.matmul(x, y)
        return x + y


def test_guards_come_before_ranges_and_the_dims_are_named_in_order():
    batch, m, k, n = dims("batch", "M", "K", "N")
    ours, theirs = _both(Guarded(), (torch.randn(10, 2, 3), torch.randn(10, 3, 4)),
                         {"x": (batch, m, k), "y": (batch, k, n)})
    assert _header(ours) == _header(theirs) == "Constraints violated (K, batch)!"
    assert _subjects(ours) == _subjects(theirs) == ["K", "batch"]
    assert _fixes(ours)[0] == _fixes(theirs)[0] == "batch = Dim('batch', max=15)"
    assert _fixes(ours)[-1] == _fixes(theirs)[-1] == "K = 3*_K"


class FlatPlus(torch.nn.Module):
    def forward(self, x, y):
        return x.reshape([-1]) + y


def test_a_root_pinned_by_solving_a_relation_of_its_dims_is_a_forced_specialization():
    dy = Dim("dy", min=6)
    ours, theirs = _both(FlatPlus(), (torch.randn(6, 2), torch.randn(12)),
                         {"x": (dy - 6, 2), "y": (dy,)})
    for message in (ours, theirs):
        assert "Specializations unexpectedly required (dy)!" in message
        assert ("- solving the guards generated for dy - 6 = L['x'].size()[0] resulted in a "
                "specialized value of 6.") in message
        assert _fixes(message) == ["dy = 12"]
        assert "dy - 6 = 6" not in message      # a fix names the root, never a derived dim


class ComparedWithSix(torch.nn.Module):
    def forward(self, x, y):
        return x + 1 if x.shape[0] == 6 else x - 1


def test_a_root_pinned_by_a_constant_reports_each_dim_it_sizes():
    dy = Dim("dy", min=6)
    ours, theirs = _both(ComparedWithSix(), (torch.randn(6, 2), torch.randn(12)),
                         {"x": (dy - 6, 2), "y": (dy,)})
    marked = r"You marked (.+?) as dynamic but your code specialized it to be a constant \((\d+)\)"
    assert re.findall(marked, ours) == re.findall(marked, theirs) == [("dy - 6", "6"), ("dy", "12")]
    assert _header(ours) == _header(theirs) == "Constraints violated (dy, dy - 6)!"
    assert _fixes(ours) == _fixes(theirs) == ["dy = 12"]


class Add(torch.nn.Module):
    def forward(self, x, y):
        return x + y


def test_a_hidden_root_with_an_example_of_one_specializes_every_dim_derived_from_it():
    dx = Dim("dx", min=1, max=2)
    ours, theirs = _both(Add(), (torch.randn(2, 3), torch.randn(2, 3)),
                         {"x": (2 * dx, Dim.STATIC), "y": (dx + 1, Dim.STATIC)})
    marked = r"You marked (.+?) as dynamic but your code specialized it to be a constant \((\d+)\)"
    assert re.findall(marked, ours) == re.findall(marked, theirs) == [("2*dx", "2"), ("dx + 1", "2")]
    assert _header(ours) == _header(theirs) == "Constraints violated (2*dx, dx + 1)!"
    assert "Suggested fixes" not in ours
