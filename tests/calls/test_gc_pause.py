"""export() pauses the cyclic garbage collector (linear cost in depth) and always restores
the collector's previous state, on success and on failure."""
import gc

import pytest
import torch

import strict_tracer


class Observes(torch.nn.Module):
    def forward(self, x):
        return x + 1


class Fails(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("model", [Observes, Fails])
def test_collector_state_is_restored(enabled, model):
    previous = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        try:
            strict_tracer.export(model(), (torch.randn(3),))
        except strict_tracer.GraphBreakError:
            assert model is Fails
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if previous else gc.disable)()


def test_collector_is_paused_while_tracing(monkeypatch):
    import strict_tracer.api as api
    seen = []
    real_trace = api.trace

    def recording_trace(*args, **kwargs):
        seen.append(gc.isenabled())
        return real_trace(*args, **kwargs)

    monkeypatch.setattr(api, "trace", recording_trace)
    previous = gc.isenabled()
    gc.enable()
    try:
        strict_tracer.export(Observes(), (torch.randn(2),))
    finally:
        (gc.enable if previous else gc.disable)()
    assert seen == [False]
