"""Resources: export traces metadata only (no parameter copies, no activations), and exports
in several threads are safe (they queue on strict_tracer.context.export_lock)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
import torch

import strict_tracer
from strict_tracer import context


# ~1.07 GB of float32 parameters; run as a separate process so its peak RSS is its own.
BIG_MODEL_SCRIPT = r'''
import json, resource, torch, strict_tracer

def peak_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

class Big(torch.nn.Module):
    def __init__(self, layers=16, width=4096):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(layers))
    def forward(self, x):
        for layer in self.layers:
            x = layer(x).relu()
        return x

class Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)
    def forward(self, x):
        return self.lin(x).relu()

strict_tracer.export(Small(), (torch.randn(2, 8),))     # imports and caches warm
with torch.no_grad():
    mod = Big()
x = torch.randn(4096, 4096)      # one activation is 64 MB; running forward would need 16 of them
before = peak_mb()
ep = strict_tracer.export(mod, (x,))
after = peak_mb()
params = sum(p.numel() * p.element_size() for p in mod.parameters())
shared = all(ep.state_dict[name].data_ptr() == p.data_ptr() for name, p in mod.named_parameters())
print(json.dumps({"param_mb": params / 2**20, "peak_growth_mb": after - before,
                  "shares_storage": shared, "nodes": len(ep.graph.nodes)}))
'''


@pytest.mark.slow   # builds 1 GB of parameters: ~20 s
def test_one_gigabyte_model_exports_without_copying():
    proc = subprocess.run([sys.executable, "-c", BIG_MODEL_SCRIPT], capture_output=True,
                          text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(result)
    assert result["param_mb"] > 1000
    assert result["shares_storage"]
    assert result["nodes"] == 16 * 2 + 16 * 2 + 2      # params, linear+relu, input, output
    assert result["peak_growth_mb"] < 100            # neither a parameter copy nor an activation


class Affine(torch.nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale
        self.lin = torch.nn.Linear(4, 4)
        self.calls = 0

    def forward(self, x):
        self.calls += 1                 # a write the sandbox undoes
        out = self.lin(x) * self.scale
        for _ in range(self.scale):
            out = out + 1
        return out


def test_concurrent_exports_in_threads():
    """4 threads export different models at once: each program matches its own model, no
    state leaks, and the process-wide state (recursion limit) is as before."""
    limit = sys.getrecursionlimit()
    models = [Affine(scale) for scale in (1, 2, 3, 4)]
    inputs = [torch.randn(3, 4) for _ in models]
    results: dict[int, object] = {}
    start = threading.Barrier(len(models))

    def work(i):
        start.wait()
        try:
            results[i] = strict_tracer.export(models[i], (inputs[i],))
        except BaseException as exc:   # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(models))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for i, mod in enumerate(models):
        ep = results[i]
        assert isinstance(ep, torch.export.ExportedProgram), ep
        torch.testing.assert_close(ep.module()(inputs[i]), mod(inputs[i]))
        assert mod.calls == 1          # only the eager call above
    assert sys.getrecursionlimit() == limit
    assert context.maybe_current() is None


def test_exports_queue_on_the_documented_lock():
    """While one thread holds the export lock, another thread's export waits for it."""
    done = threading.Event()

    def work():
        strict_tracer.export(Affine(1), (torch.randn(3, 4),))
        done.set()

    with context.export_lock:
        thread = threading.Thread(target=work)
        thread.start()
        assert not done.wait(0.5)
    thread.join(timeout=300)
    assert done.is_set()
