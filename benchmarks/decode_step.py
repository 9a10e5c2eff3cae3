"""Export time of LLM decode steps: strict_tracer vs torch.export(strict=True), one process.

    .venv/bin/python benchmarks/decode_step.py [--repeat N]

Rows (tiny Llama from strict_tracer.testing.hf_decode, 2 layers):
- decode step, DynamicCache passed in and returned (transformers' executorch registration),
  static shapes and with the cached length dynamic (`Dim("seq")`);
- prefill returning its DynamicCache;
- transformers' TorchExportableModuleWithStaticCache (StaticCache held as buffers).
CPU seconds (time.process_time), median of N interleaved runs after a warm-up; "fails" when
an exporter refuses the row (the error class is printed).
"""
from __future__ import annotations

import argparse
import gc
import statistics
import time
import warnings

import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.testing import hf_decode


def _rows():
    from transformers.integrations.executorch import register_dynamic_cache_export_support
    register_dynamic_cache_export_support()
    model = hf_decode.llama()
    ids, token = torch.randint(0, 100, (1, 5)), torch.tensor([[7]])
    with torch.no_grad():
        cache = model(input_ids=ids, use_cache=True).past_key_values
    step = hf_decode.DecoderStep(model)
    seq = {"input_ids": None, "cache": hf_decode.cache_dynamic_shapes(cache, Dim("seq", max=60))}
    wrapper = hf_decode.static_cache_model(model)
    static_kwargs = {"input_ids": torch.tensor([[3]]), "cache_position": torch.tensor([0])}
    return [
        ("decode DynamicCache", "static", step, (token, cache), {}, None),
        ("decode DynamicCache", "dynamic", step, (token, cache), {}, seq),
        ("prefill -> cache", "static", step, (ids,), {}, None),
        ("StaticCache wrapper", "static", wrapper, (), static_kwargs, None),
    ]


def _exporters():
    return {"ours": strict_tracer.export,
            "strict": lambda *a, **k: torch.export.export(*a, strict=True, **k)}


def _cpu_seconds(fn) -> float:
    gc.collect()
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    warnings.filterwarnings("ignore")
    import logging
    logging.getLogger("transformers").setLevel(logging.ERROR)
    print(f"== LLM decode-step export: CPU seconds, median of {repeat} after a warm-up ==")
    print(f"{'row':<22}{'mode':<9}{'ours':>9}{'strict':>20}{'ours/strict':>13}")
    for label, mode, model, args, kwargs, shapes in _rows():
        medians = {}
        for name, export in _exporters().items():
            run = (lambda e=export: e(model, args, kwargs, dynamic_shapes=shapes))
            try:
                run()
            except Exception as exc:  # noqa: BLE001 - reported in the table
                medians[name] = f"fails ({type(exc).__name__})"
                continue
            medians[name] = statistics.median(_cpu_seconds(run) for _ in range(repeat))
        ours, strict = medians["ours"], medians["strict"]
        ratio = f"{ours / strict:.3f}" if all(isinstance(v, float) for v in (ours, strict)) else "-"
        cells = [f"{v:.3f}" if isinstance(v, float) else v for v in (ours, strict)]
        print(f"{label:<22}{mode:<9}{cells[0]:>9}{cells[1]:>20}{ratio:>13}", flush=True)


if __name__ == "__main__":
    main()
