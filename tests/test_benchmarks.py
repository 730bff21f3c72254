"""The benchmarks' own accounting (benchmarks/): what they attribute time to, on a tiny model."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_a_transformer_step_is_split_into_parts_that_add_up_and_its_padding_is_counted():
    from transformer_time import PARTS, measure, part_of
    assert part_of("aten::addmm", "[[3], [24, 16], [16, 37]]", 37) == "output projection"
    assert part_of("aten::mm", "[[24, 16], [16, 48]]", 37) == "other matmuls"
    assert part_of("aten::mm", "[[370, 16], [16, 48]]", 37) == "other matmuls"  # 37 inside 370 is not the vocabulary
    assert part_of("aten::_scaled_dot_product_flash_attention_for_cpu", "[]", 37) == "attention"
    assert part_of("aten::_log_softmax", "[]", 37) == "loss"
    g = torch.Generator().manual_seed(0)
    src = torch.randint(3, 37, (4, 6), generator=g)
    src[:, 4:] = 0  # PAD: 8 of 24 source positions
    tgt = torch.randint(3, 37, (4, 5), generator=g)
    t = {"batch_size": 4, "lr": 1e-3, "adam": {"betas": [0.9, 0.98], "eps": 1e-9}}
    cfg = {"d_model": 16, "heads": 2, "enc_layers": 1, "dec_layers": 1, "ffn": 32, "dropout": 0.0,
           "init": "xavier", "src_vocab": 37}
    r = measure(t, cfg, 37, lambda step, gen: ((src, tgt[:, :-1]), tgt[:, 1:]), torch.device("cpu"), False, 2)
    assert set(r["parts"]) == set(PARTS) and sum(r["parts"].values()) == pytest.approx(1)
    assert sum(r["phases"].values()) == pytest.approx(1)
    for part in ("output projection", "loss", "attention", "other matmuls", "optimizer"):
        assert r["parts"][part] > 0, part
    assert r["pad_share"] == pytest.approx(8 / (24 + 16))
