"""Determinism: the same export twice in one process, and in a process with another
PYTHONHASHSEED, prints the same program and saves the same bytes (torch.export.save writes
fixed zip timestamps and a content-derived serialization id, so the raw bytes are compared;
nothing is normalized)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from support.reliability_models import block_export, fingerprint

# tests/: the child process imports support.reliability_models under the name this process
# uses (module paths are part of the program: nn_module_stack names the model's class).
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_same_export_twice_in_one_process():
    first, second = fingerprint(block_export()), fingerprint(block_export())
    assert first == second
    assert "u0: VR[2, 64]" in first["ranges"] and "torch.ops.higher_order.cond" in first["code"]


@pytest.mark.slow      # a fresh interpreter process: ~10 s
def test_same_export_under_another_hash_seed():
    """Set and dict iteration orders in the tracer (symbols, guards, range constraints,
    runtime asserts, lifted constants) must not follow string hashing."""
    here = fingerprint(block_export())
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    env = dict(os.environ, PYTHONHASHSEED=seed)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [HERE, env.get("PYTHONPATH")]))
    script = ("import json; from support import reliability_models as m; "
              "print(json.dumps(m.fingerprint(m.block_export())))")
    out = subprocess.run([sys.executable, "-c", script], env=env,
                         capture_output=True, text=True, timeout=600, check=True)
    there = json.loads(out.stdout.strip().splitlines()[-1])
    assert there == here


def test_saved_program_round_trips():
    ep = block_export()
    import io
    buffer = io.BytesIO()
    torch.export.save(ep, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    assert [s.arg.name for s in loaded.graph_signature.input_specs] == \
        [s.arg.name for s in ep.graph_signature.input_specs]
    assert str(loaded.range_constraints) == str(ep.range_constraints)
    x, y = torch.randn(6, 8), torch.randn(3, 8)
    extra = {"n": torch.tensor(5)}
    for key, value in ep.module()(x, y, extra).items():
        torch.testing.assert_close(loaded.module()(x, y, extra)[key], value)
