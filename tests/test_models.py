"""Model shapes and parameter counts."""
from __future__ import annotations

import torch
from torch import nn

from pipeline.models import build_model
from pipeline.models.fcn import FCN


def test_fcn_shapes_and_parameter_count():
    m = build_model("fcn", (28, 28), 10, {"hidden": [1200, 1200], "dropout": 0.0, "init_std": 0.03})
    x = torch.rand(3, 28, 28)
    assert m(x).shape == (3, 10)
    assert m.features(x).shape == (3, 1200)
    expected = (784 * 1200 + 1200) + (1200 * 1200 + 1200) + (1200 * 10 + 10)
    assert sum(p.numel() for p in m.parameters()) == expected == 2_395_210


def test_fcn_student_width_and_dropout_placement():
    m = FCN(784, 47, [800, 800], dropout=0.5)
    assert [lin.out_features for lin in m.linear_layers()] == [800, 800, 47]
    assert sum(isinstance(x, nn.Dropout) for x in m.modules()) == 2
    assert not any(isinstance(x, nn.Dropout) for x in FCN(784, 10, [800, 800]).modules())


def test_features_are_post_relu_and_feed_the_head():
    m = FCN(784, 10, [50, 40])
    x = torch.rand(4, 784)
    f = m.features(x)
    assert (f >= 0).all()
    assert torch.allclose(m.head(f), m(x))


def test_init_is_gaussian_with_the_given_std_and_zero_bias():
    torch.manual_seed(0)
    m = FCN(784, 10, [1200, 1200], init_std=0.03)
    w = m.linear_layers()[1].weight
    assert abs(w.std().item() - 0.03) < 0.001 and abs(w.mean().item()) < 0.001
    assert all((lin.bias == 0).all() for lin in m.linear_layers())
