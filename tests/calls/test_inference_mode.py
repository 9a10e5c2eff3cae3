"""torch.inference_mode blocks in forward: a no_grad region (enabled) or a no-op (disabled)."""
import pytest
import torch

import strict_tracer


class InferenceBlock(torch.nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.lin = torch.nn.Linear(3, 3)
        self.mode = mode

    def forward(self, x):
        with torch.inference_mode(self.mode):
            y = self.lin(x) * 2
        return y + 1, y.requires_grad


@pytest.mark.parametrize("mode", [True, False])
def test_inference_mode_block_matches_eager(mode):
    model = InferenceBlock(mode)
    x = torch.randn(2, 3)
    ep = strict_tracer.export(model, (x,))
    (got, got_flag), (want, want_flag) = ep.module()(x), model(x)
    assert torch.allclose(got, want) and got_flag == want_flag
    assert not torch.is_inference_mode_enabled()
    regions = [n for n in ep.graph.nodes if "wrap_with_set_grad_enabled" in str(n.target)]
    assert bool(regions) == mode
