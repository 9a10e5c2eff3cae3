"""A small ResNet-style CNN (strided stem, max pool, residual blocks with projection shortcuts,
batch norm in eval, in-place ReLU, adaptive pooling, classifier) shared by the model tests."""
from __future__ import annotations

import torch
import torch.nn.functional as F


class Block(torch.nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(cout)
        self.conv2 = torch.nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(cout)
        self.shortcut = torch.nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = torch.nn.Sequential(
                torch.nn.Conv2d(cin, cout, 1, stride=stride, bias=False), torch.nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetish(torch.nn.Module):
    def __init__(self, classes: int = 10, widths: tuple = (8, 16, 32)):
        super().__init__()
        self.stem = torch.nn.Sequential(
            torch.nn.Conv2d(3, widths[0], 5, stride=2, padding=2, bias=False),
            torch.nn.BatchNorm2d(widths[0]), torch.nn.ReLU(inplace=True),
            torch.nn.MaxPool2d(3, stride=2, padding=1))
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            blocks += [Block(cin, w, 1 if i == 0 else 2), Block(w, w, 1)]
            cin = w
        self.blocks = torch.nn.Sequential(*blocks)
        self.pool = torch.nn.AdaptiveAvgPool2d((1, 1))
        self.fc = torch.nn.Linear(cin, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def resnet_model() -> ResNetish:
    """A ResNetish in eval mode with non-trivial batch-norm running statistics."""
    model = ResNetish()
    with torch.no_grad():   # non-trivial running statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()
