"""The call policy and what each answer runs: inline, native (under the guard), a lookaside,
a tensor op, an nn.Module call, or a refusal (policy.py)."""
