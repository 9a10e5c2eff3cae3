"""The oracle: run a native torch callable on fake tensors and record its ATen calls."""
