"""Tensors and their neighbours inside the interpreter: proxy methods and attributes,
symbolic indexing and data reads, torch natives that are not tensor ops, NumPy, autocast."""
