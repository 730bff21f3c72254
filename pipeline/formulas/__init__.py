"""The papers' formulas, each in one place: tensors in, numbers out, no file I/O."""
