"""Replaying cached templates must behave exactly like the first (probed) export."""
import torch

import strict_tracer
from strict_tracer.ops import clear_template_cache
from support.helpers import assert_same, run_both


class InplaceOnViewOfGradOutput(torch.nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor
        self.lin = torch.nn.Linear(6, 6)

    def forward(self, x):
        v = self.lin(x).clone()
        if self.factor is not None:
            v[:, 0].mul_(self.factor)   # legal: v is not a leaf even though it requires grad
        return v


def test_cached_templates_keep_autograd_leafness():
    clear_template_cache()
    x = torch.randn(4, 6)
    strict_tracer.export(InplaceOnViewOfGradOutput(None), (x,))   # caches linear and clone
    mod = InplaceOnViewOfGradOutput(0.25)
    ep = strict_tracer.export(mod, (x,))     # replays them, then probes the new in-place op
    got, want = run_both(mod, ep, (x,))
    assert_same(got, want)


def test_symbolic_outputs_keep_autograd_leafness():
    from torch.export import Dim

    mod = InplaceOnViewOfGradOutput(0.5)
    ep = strict_tracer.export(mod, (torch.randn(4, 6),), dynamic_shapes=({0: Dim.AUTO},))
    got, want = run_both(mod, ep, (torch.randn(7, 6),))
    assert_same(got, want)
