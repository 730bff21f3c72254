"""Train / validation / test splits.

The official test split is what every table reports. A validation split is
held out of the official training split, by a seeded permutation, for
temperature fitting: it is never trained on and never reported.
"""
from __future__ import annotations

import torch


def holdout(n: int, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train_idx, val_idx): disjoint, covering range(n), each sorted."""
    if not 0 < val_size < n:
        raise ValueError(f"val_size {val_size} must be between 1 and {n - 1} for {n} training examples")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:].sort().values, perm[:val_size].sort().values


def per_class(labels: torch.Tensor, classes: list[int], n: int, gen: torch.Generator,
              where: str) -> list[torch.Tensor]:
    """n indices of each class, in class order, drawn without replacement with ``gen``.

    Raises ValueError("at most k: class c of <where> has only k examples") for the
    first class with fewer than n; callers turn it into a ParamError for their key.
    """
    out = []
    for c in classes:
        pool = (labels == c).nonzero().squeeze(1)
        if len(pool) < n:
            raise ValueError(f"at most {len(pool)}: class {c} of {where} has only {len(pool)} examples")
        out.append(pool[torch.randperm(len(pool), generator=gen)[:n]])
    return out


def mixed_order(n: int, seed: int) -> torch.Tensor:
    """A seeded permutation of range(n), for readers that return a split in class order (image folders):
    stored in this order, any prefix of the training split (``max_train_examples``) holds every class."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))  # not holdout()'s draw
