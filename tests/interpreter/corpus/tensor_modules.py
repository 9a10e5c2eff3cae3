"""nn.Module semantics: hooks, containers, parameter iteration, training flags, grad-mode
context managers, attribute writes in forward (the sandbox restores the module)."""
import contextlib

import torch
from torch import nn

from corpus.support import tensor_program


def one(*shape):
    return lambda: (torch.randn(*shape),)


@tensor_program(one(2, 4))
class ForwardHooks(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.lin.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        self.lin.register_forward_hook(lambda mod, args, out: out + 1)
        self.act = nn.ReLU()
        self.act.register_forward_hook(lambda mod, args, kwargs, out: out * 3, with_kwargs=True)
        self.act.register_forward_pre_hook(
            lambda mod, args, kwargs: ((args[0] - 1,), kwargs), with_kwargs=True)

    def forward(self, x):
        return self.act(self.lin(x))


@tensor_program(one(2, 4))
class AlwaysCallHook(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.calls = []
        self.lin.register_forward_hook(self.record, always_call=True)

    def record(self, mod, args, out):
        self.calls.append(tuple(out.shape))
        return out.tanh()

    def forward(self, x):
        return self.lin(x) + len(self.calls)


@tensor_program(one(3, 4))
class ModuleListUsage(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
        self.layers.append(nn.Identity())

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x) if i % 2 == 0 else torch.relu(layer(x))
        first, *rest = self.layers[:2]
        return x + self.layers[-2](x) + first(x) + len(self.layers) + len(rest)


@tensor_program(one(2, 4))
class ModuleDictUsage(nn.Module):
    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Linear(4, 2)})

    def forward(self, x):
        outs = {name: head(x) for name, head in self.heads.items()}
        keys = sorted(self.heads.keys())
        total = sum(self.heads[k](x) for k in keys)
        return outs, total, "a" in self.heads, [v(x) for v in self.heads.values()]


@tensor_program(one(2, 4))
class SequentialUsage(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4))

    def forward(self, x):
        partial = self.body[:2](x)
        manual = x
        for m in self.body:
            manual = m(manual)
        return self.body(x) + manual, partial, self.body[-1].out_features


@tensor_program(one(2, 4))
class ParameterIteration(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4, bias=False)
        self.register_buffer("scale", torch.tensor(2.0))

    def forward(self, x):
        norm = sum(p.pow(2).sum() for p in self.parameters())
        names = [n for n, _ in self.named_parameters()]
        n_modules = len(list(self.named_modules()))
        weights = [p for n, p in self.named_parameters() if n.endswith("weight")]
        same = any(p is self.a.weight for p in self.parameters())
        bufs = dict(self.named_buffers())
        return self.b(self.a(x)) * bufs["scale"] + norm + len(names) + n_modules + len(weights) + same


@tensor_program(one(2, 4))
class TrainingFlagBranches(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.0)
        self.lin = nn.Linear(4, 4)
        self.eval()

    def forward(self, x):
        if self.training:
            x = x * 100
        else:
            x = x - 1
        return self.drop(self.lin(x)), self.lin.training


@contextlib.contextmanager
def scaled(log):
    log.append("enter")
    try:
        yield 3
    finally:
        log.append("exit")


@torch.no_grad()
def detached_double(t):
    return t * 2


@tensor_program(lambda: (torch.randn(2, 3),))
class GradModeContexts(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(3))

    def forward(self, x):
        log = []
        with torch.no_grad():
            a = x * self.w
            inside = torch.is_grad_enabled()
        with torch.enable_grad():
            b = x * self.w
        with torch.set_grad_enabled(False):
            c = x + 1
        with contextlib.nullcontext(5) as five:
            d = x * five
        with scaled(log) as k:
            e = x * k
        f = detached_double(x)
        return a, b, c, d, e, f, inside, torch.is_grad_enabled(), len(log)


# `self.state = ...` is a BUFFER_MUTATION here; torch.export drops the assignment (README).
@tensor_program(one(3), torch_export="buffer assignment")
class AttributeWritesInForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.counter = 0
        self.history = []
        self.config = {"scale": 2}
        self.register_buffer("state", torch.zeros(3))

    def forward(self, x):
        self.counter += 1
        self.history.append(self.counter)
        self.config["scale"] = self.config["scale"] + 1
        self.last = x * 2
        self.state = self.state + x
        return self.last + self.counter + self.config["scale"] + self.state


@tensor_program(one(2, 4))
class SubmoduleSuperForward(nn.Module):
    class Scaled(nn.Linear):
        def forward(self, x):
            return super().forward(x) * 2

    def __init__(self):
        super().__init__()
        self.lin = self.Scaled(4, 4)

    def forward(self, x):
        return self.lin(x), self.lin.__class__.__name__


@tensor_program(one(2, 4))
class ModulesCreatedInForwardAndGetattr(nn.Module):
    def __init__(self):
        super().__init__()
        for i in range(3):
            setattr(self, f"layer{i}", nn.Linear(4, 4))

    def forward(self, x):
        for i in range(3):
            x = getattr(self, f"layer{i}")(x)
        return nn.ReLU()(x), nn.functional.gelu(x), torch.nn.Softmax(dim=-1)(x)


@tensor_program(one(2, 4))
class KwargsAndDefaultsInForwardCalls(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Inner()

    def forward(self, x):
        return self.inner(x, scale=3), self.inner(x), self.inner(x, 2, shift=torch.ones(4))


class Inner(nn.Module):
    def forward(self, x, scale=1, *, shift=None):
        out = x * scale
        return out if shift is None else out + shift


@tensor_program(one(2, 3))
class ModuleStateQueries(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        n_params = sum(p.numel() for p in self.parameters())
        trainable = all(p.requires_grad for p in self.parameters())
        dtype = next(self.parameters()).dtype
        return self.lin(x).to(dtype) + n_params + trainable, len(self.state_dict())


class Config:
    hidden = 4
    use_bias = True

    @property
    def double_hidden(self):
        return self.hidden * 2


@tensor_program(one(2, 4))
class ConfigObjectDriven(nn.Module):
    def __init__(self):
        super().__init__()
        self.cfg = Config()
        self.lin = nn.Linear(self.cfg.hidden, self.cfg.double_hidden, bias=self.cfg.use_bias)

    def forward(self, x):
        out = self.lin(x)
        if self.cfg.double_hidden == out.shape[-1]:
            out = out.view(*out.shape[:-1], 2, self.cfg.hidden)
        return out
