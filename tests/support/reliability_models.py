"""Models for the determinism and resource tests: exercise what is named or ordered by
strict_tracer (symbols, guards, range constraints, runtime asserts, lifted constants, module
stacks, grad regions, control flow), and a fingerprint of an export's printed and saved forms."""
from __future__ import annotations

import hashlib
import io

import torch
from torch.export import Dim

import strict_tracer


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(8, 8)
        self.b = torch.nn.Linear(8, 8)
        self.register_buffer("count", torch.zeros(1))
        self.table = torch.arange(8.0)          # a constant tensor attribute

    def forward(self, x, y, extra):
        self.count.add_(1)
        names = {"alpha": 1, "beta": 2, "gamma": 3}
        z = x
        for key in sorted(names):
            z = z + names[key]
        h = self.a(x).relu().sum(0) + self.b(y).mean(0) + self.table
        if x.shape[0] > 2:
            h = h * 2
        with torch.no_grad():
            frozen = h.detach() * 3
        n = extra["n"].item()
        torch._check(n >= 2)
        torch._check(n <= 64)
        picked = torch.zeros(n).sum()
        both = torch.cat([x, y], 0)
        branch = torch.cond(both.sum() > 0, lambda t: t.sin(), lambda t: t.cos(), (both,))
        return {"h": h, "z": z, "frozen": frozen, "picked": picked, "branch": branch}


def block_export() -> torch.export.ExportedProgram:
    torch.manual_seed(0)
    mod = Block()
    x, y = torch.randn(4, 8), torch.randn(5, 8)
    extra = {"n": torch.tensor(6)}
    b1, b2 = Dim("b1", min=3, max=100), Dim("b2")
    return strict_tracer.export(mod, (x, y, extra),
                                dynamic_shapes={"x": {0: b1}, "y": {0: b2}, "extra": {"n": None}})


def fingerprint(ep: torch.export.ExportedProgram) -> dict[str, str]:
    """The printed program, its code, its range constraints and the torch.export.save bytes
    (compared raw: torch writes fixed zip timestamps and a content-derived serialization id)."""
    buffer = io.BytesIO()
    torch.export.save(ep, buffer)
    return {"print": str(ep), "code": ep.graph_module.code,
            "ranges": str(ep.range_constraints),
            "saved": hashlib.sha256(buffer.getvalue()).hexdigest()}

