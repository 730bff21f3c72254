"""Invariants of the batched shift augmentation."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline.data.augment import random_shift


def _shift(img: torch.Tensor, dy: int, dx: int, m: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    return F.pad(img, (m, m, m, m))[..., m - dy:m - dy + h, m - dx:m - dx + w]


def test_each_image_is_some_integer_shift_within_range():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 28, 28, generator=g)
    out = random_shift(x, 2, torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    seen = set()
    for i in range(len(x)):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if torch.equal(out[i], _shift(x[i], dy, dx, 2))]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 10  # many of the 25 centerings occur


def test_zero_shift_is_identity_and_channels_move_together():
    x = torch.rand(4, 3, 8, 8)
    assert torch.equal(random_shift(x, 0, torch.Generator()), x)
    out = random_shift(x, 1, torch.Generator().manual_seed(2))
    for i in range(4):
        assert any(torch.equal(out[i], _shift(x[i], dy, dx, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_interior_content_is_preserved_and_uint8_works():
    x = torch.zeros(16, 28, 28, dtype=torch.uint8)
    x[:, 10:18, 10:18] = 200
    out = random_shift(x, 2, torch.Generator().manual_seed(3))
    assert out.dtype == torch.uint8
    assert (out.sum((1, 2)) == x.sum((1, 2))).all()


def test_same_generator_state_gives_same_batch():
    x = torch.rand(8, 28, 28)
    a = random_shift(x, 2, torch.Generator().manual_seed(5))
    b = random_shift(x, 2, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_random_crop_takes_an_in_bounds_window_of_each_image():
    from pipeline.data.augment import random_crop
    x = torch.arange(6 * 3 * 32 * 32, dtype=torch.float32).view(6, 3, 32, 32)
    out = random_crop(x, 24, torch.Generator().manual_seed(0))
    assert out.shape == (6, 3, 24, 24)
    tops = set()
    for i in range(6):
        hits = [(t, c) for t in range(9) for c in range(9) if torch.equal(out[i], x[i, :, t:t + 24, c:c + 24])]
        assert len(hits) == 1
        tops.add(hits[0])
    assert len(tops) > 1


def test_center_crop_and_flip_symmetry():
    from pipeline.data.augment import center_crop, random_flip
    x = torch.rand(64, 3, 32, 32)
    assert torch.equal(center_crop(x, 24), x[..., 4:28, 4:28])
    out = random_flip(x, torch.Generator().manual_seed(1))
    flipped = [torch.equal(out[i], x[i].flip(-1)) for i in range(64)]
    kept = [torch.equal(out[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 16 < sum(flipped) < 48                       # about half
    assert torch.equal(x.flip(-1).flip(-1), x)          # a flip is its own inverse
    many = torch.arange(4000.0).view(-1, 1, 1, 2)        # 2,000 two-pixel images, each [2i, 2i + 1]
    out = random_flip(many, torch.Generator().manual_seed(0))
    share = (out[..., 0] > out[..., 1]).float().mean().item()
    assert 0.45 < share < 0.55                          # probability ½ (fixed seed: the same share every run)
    sym = torch.rand(8, 3, 32, 16)
    sym = torch.cat([sym, sym.flip(-1)], -1)            # left-right symmetric images do not change
    assert torch.equal(random_flip(sym, torch.Generator().manual_seed(2)), sym)
