"""Guards with floor division that always hold inside a named Dim's range are not violations
(torch.export 2.13 reports `(b // 2) <= b` as one and suggests b = 2*_b)."""
import torch
from torch.export import Dim

import strict_tracer


class HalfSlices(torch.nn.Module):
    def forward(self, x):
        return x[x.shape[0] // 2:], x[: x.shape[0] - x.shape[0] // 3]


def test_floor_guards_implied_by_the_range_export():
    model = HalfSlices()
    ep = strict_tracer.export(model, (torch.randn(6, 2),), dynamic_shapes={"x": {0: Dim("b", max=40)}})
    for n in range(2, 41):
        x = torch.randn(n, 2)
        for got, want in zip(ep.module()(x), model(x)):
            assert torch.equal(got, want), n
