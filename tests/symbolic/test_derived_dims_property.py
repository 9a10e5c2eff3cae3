"""Property: random programs over inputs sized by derived dims (`a * d + b` of one root, which
may size no input itself) either are refused at export or accept every size the spec
declares and run there like eager; a size outside the spec is rejected or runs like eager
(strict_tracer/testing/derived_dims.py)."""
import torch
from hypothesis import given, settings

import strict_tracer
from strict_tracer.testing.derived_dims import (TORCH_FLOAT_CHECK, DerivedDimProgram, Scaled,
                                                check, derived_dim_programs)

@settings(max_examples=60)
@given(derived_dim_programs())
def test_derived_dim_programs_accept_their_declared_sizes_and_match_eager(program):
    assert check(program, strict_tracer.export) in ("ok", "refused", "torch check")


def _program(body: str, sizes: tuple, lo: int = 2, hi: int = 8) -> DerivedDimProgram:
    params = "x, y" if len(sizes) == 2 else "x"
    source = (f"class Program(torch.nn.Module):\n    def forward(self, {params}):\n"
              f"        n = x.shape[0]\n        m = {'y.shape[0]' if len(sizes) == 2 else 'n'}\n"
              f"        out = []\n        {body}\n        return tuple(out)\n")
    return DerivedDimProgram(source, sizes, lo, hi, 4, f"<derived-dim test {len(source)}>")


def test_a_residue_of_a_root_that_sizes_no_input_is_guarded():
    """x: 3*d + 1, y: 2*d + 1 (d sizes neither): a program reading n % 3 runs like eager at
    every declared size and rejects an x of another residue."""
    program = _program("out.append(x[n % 3:] * (m - n))", (Scaled(3, 1), Scaled(2, 1)))
    assert check(program, strict_tracer.export) in ("ok", "torch check")
    ep = strict_tracer.export(program.build(), program.inputs((13, 9)),
                              dynamic_shapes=program.spec())
    try:
        ep.module()(*program.inputs((14, 9)))
    except AssertionError as exc:
        assert "Guard failed" in str(exc)
    else:
        raise AssertionError("x of size 14 (not 3*d + 1) was accepted")


def test_torchs_floating_point_check_of_a_hidden_root_is_torch_exports_too():
    """torch's ep.module() solves x = 3*d + 1 for d with `/` and rejects y = 2*d + 1 at d = 2
    (5 != 1/3 + 2/3 * 7 in floating point); torch.export's own program does the same."""
    program = _program("out.append(x.sum() * (n - m))", (Scaled(3, 1), Scaled(2, 1)))
    model, spec = program.build(), program.spec()
    ours = strict_tracer.export(model, program.inputs((13, 9)), dynamic_shapes=spec)
    theirs = torch.export.export(model, program.inputs((13, 9)), dynamic_shapes=spec)
    args = program.inputs((7, 5))
    for ep in (ours, theirs):
        try:
            ep.module()(*args)
        except AssertionError as exc:
            assert TORCH_FLOAT_CHECK in str(exc)
        else:
            raise AssertionError("torch's floating-point check passed: the known issue is fixed")
    assert check(program, strict_tracer.export) == "torch check"
