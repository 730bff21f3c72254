"""Tokenised sentence pairs as padded id tensors, and the batches the training loop draws from them.

A split is stored as two PAD-filled int32 tensors: the source (sentence + EOS) and the target
(BOS + sentence + EOS), each with one row per pair, plus the true lengths. The ids live on the
training device (``to_device``) and batches are indexed there. Padding to the
longest sentence of the *split* would triple the work (mean 13 word pieces, longest 47), so a
batch is cut to the longest sentence it holds. The cut is computed from the lengths kept on the
host, so drawing a batch never waits for the device (no host-device synchronisation).
"""
from __future__ import annotations

import math

import torch

from .tokenizer import BOS, EOS, PAD


def pack(seqs: list[list[int]], bos: bool) -> dict:
    """``{"ids": [N, L] int32, "len": [N] int64}``: each sequence + EOS (preceded by BOS if asked)."""
    rows = [([BOS] if bos else []) + s + [EOS] for s in seqs]
    ids = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.int32)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r, dtype=torch.int32)
    return {"ids": ids, "len": torch.tensor([len(r) for r in rows])}


def to_device(split: dict, device: torch.device) -> dict:
    """The split with its ids on ``device``; the lengths stay on the host."""
    return {side: {"ids": split[side]["ids"].to(device), "len": split[side]["len"]} for side in ("src", "tgt")}


def pair(split: dict, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(source, target) int64 ids of the pairs ``idx`` (a CPU tensor), cut to their longest sentence."""
    ls, lt = int(split["src"]["len"][idx].max()), int(split["tgt"]["len"][idx].max())
    on = idx.to(split["src"]["ids"].device, non_blocking=True)
    return split["src"]["ids"][on, :ls].long(), split["tgt"]["ids"][on, :lt].long()


def teacher_forced(src: torch.Tensor, tgt: torch.Tensor):
    """Model input (source, target without its last token) and the next-token targets."""
    return (src, tgt[:, :-1]), tgt[:, 1:]


class TrainBatches:
    """``batch_fn(step, gen)`` for the generic loop: every pair once per epoch, in length-sorted batches.

    Each epoch shuffles the pairs (seeded by (seed, epoch), so a resumed run
    draws the same batches), cuts the order into pools of ``pool`` batches,
    sorts each pool by target length and cuts it into batches, then shuffles
    the batches. On Multi30k's training split 80 % of the positions computed
    are then real tokens, against 45 % with random batches (tensor2tensor,
    which Müller used, also batches by length).
    """

    def __init__(self, split: dict, batch_size: int, seed: int, pool: int = 50):
        self.split, self.bs, self.seed, self.pool = split, batch_size, seed, pool
        self.n = len(split["src"]["len"])
        self.per_epoch = math.ceil(self.n / batch_size)
        self._epoch, self._batches = -1, []

    def _plan(self, epoch: int) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order, lengths, chunk = torch.randperm(self.n, generator=g), self.split["tgt"]["len"], self.bs * self.pool
        batches = []
        for i in range(0, self.n, chunk):
            part = order[i:i + chunk]
            part = part[torch.argsort(lengths[part], stable=True)]
            batches += list(part.split(self.bs))
        return [batches[j] for j in torch.randperm(len(batches), generator=g).tolist()]

    def __call__(self, step: int, gen: torch.Generator):
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._batches, self._epoch = self._plan(epoch), epoch
        return teacher_forced(*pair(self.split, self._batches[i]))


def eval_batches(split: dict, batch_size: int):
    """Consecutive batches of a split, in order, for evaluation and decoding."""
    n = len(split["src"]["len"])
    for i in range(0, n, batch_size):
        yield pair(split, torch.arange(i, min(i + batch_size, n)))
