"""The embedded example `python -m strict_tracer demo` exports and prints."""
from __future__ import annotations

import torch


class DemoModel(torch.nn.Module):
    """A small CNN head: conv, batch norm (eval), pooling, a residual MLP and a softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 8))
        self.head = torch.nn.Linear(8, 4)

    def forward(self, image: torch.Tensor, *, temperature: float = 1.0) -> dict[str, torch.Tensor]:
        features = self.pool(torch.relu(self.bn(self.conv(image)))).flatten(1)
        features = features + self.mlp(features)
        logits = self.head(features) / temperature
        return {"logits": logits, "probs": logits.softmax(dim=-1)}


def run_demo() -> int:
    import strict_tracer

    torch.manual_seed(0)
    model = DemoModel().eval()
    image = torch.randn(2, 3, 16, 16)
    ep = strict_tracer.export(model, (image,), {"temperature": 2.0})
    print(ep)
    fresh = torch.randn(2, 3, 16, 16)
    got = ep.module()(fresh, temperature=2.0)
    want = model(fresh, temperature=2.0)
    diff = max((got[k] - want[k]).abs().max().item() for k in want)
    print(f"ep.module() vs eager on a fresh input: max abs difference {diff:.3g}")
    return 0 if diff < 1e-5 else 1
