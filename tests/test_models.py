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


def _tf_lrn(x: torch.Tensor, depth_radius=4, bias=1.0, alpha=0.001 / 9, beta=0.75) -> torch.Tensor:
    """TensorFlow's tf.nn.local_response_normalization, written out channel by channel."""
    out = torch.empty_like(x)
    c = x.shape[1]
    for ch in range(c):
        lo, hi = max(0, ch - depth_radius), min(c, ch + depth_radius + 1)
        sqr = (x[:, lo:hi] ** 2).sum(1)
        out[:, ch] = x[:, ch] / (bias + alpha * sqr) ** beta
    return out


def test_alexnet_lrn_equals_tensorflows_formula():
    from pipeline.models.alexnet import TF_LRN, TFLocalResponseNorm
    x = torch.randn(2, 64, 5, 5, dtype=torch.float64) * 3
    assert torch.allclose(TFLocalResponseNorm(**TF_LRN)(x), _tf_lrn(x), rtol=1e-10, atol=1e-12)
    # any channel count (the stacked AlexNet normalises each member's 64 channels), and the gradient
    y = torch.randn(3, 11, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.allclose(TFLocalResponseNorm(**TF_LRN)(y), _tf_lrn(y), rtol=1e-10, atol=1e-12)
    small = y[:1, :5, :2, :2].detach().requires_grad_()
    assert torch.autograd.gradcheck(TFLocalResponseNorm(2, 1.0, 0.3, 0.75), (small,))


def test_alexnet_shapes_parameters_and_last_layer_init():
    torch.manual_seed(0)
    m = build_model("alexnet", (3, 32, 32), 10, {"crop": 24})
    x = torch.rand(4, 3, 24, 24)
    assert m(x).shape == (4, 10) and m.features(x).shape == (4, 192)
    expected = (5 * 5 * 3 * 64 + 64) + (5 * 5 * 64 * 64 + 64) + (2304 * 384 + 384) + (384 * 192 + 192) + (192 * 10 + 10)
    assert sum(p.numel() for p in m.parameters()) == expected
    w = m.head.weight
    assert w.unique().numel() > 100                      # not the replication's constant −1/96
    assert abs(w.std().item() - 1 / 192) < 0.3 / 192 and w.abs().max() <= 2 / 192 + 1e-9
    assert [p.shape for p in m.decayed_parameters()] == [(384, 2304), (192, 384)]


def test_resnet56_preact_shapes_and_parameter_count():
    m = build_model("resnet56", (3, 32, 32), 100, {"depth": 56, "widths": [16, 32, 64], "stem_kernel": 3})
    x = torch.rand(2, 3, 32, 32)
    assert m(x).shape == (2, 100) and m.features(x).shape == (2, 64)
    n_conv = sum(isinstance(mod, nn.Conv2d) and mod.kernel_size == (3, 3) for mod in m.modules())
    assert n_conv == 1 + 2 * 27                          # stem + 27 blocks of two 3×3 convs (+ head = 56 layers)
    n = sum(p.numel() for p in m.parameters())
    assert 0.84e6 < n < 0.87e6, n                        # He et al.: 0.85 M
    wide = build_model("resnet56", (3, 32, 32), 10, {"widths": [32, 64, 128], "stem_kernel": 7})
    assert wide.stem.kernel_size == (7, 7) and wide.features(x).shape == (2, 128)


def test_unknown_model_is_refused():
    import pytest
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        build_model("vgg", (3, 32, 32), 10, {})
