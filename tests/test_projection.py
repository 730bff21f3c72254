"""Projection onto the template plane, and the cluster metrics, on known geometry."""
from __future__ import annotations

import math

import pytest
import torch

from pipeline.formulas.template_plane import cluster_metrics, lift, plane_basis, project, templates


def test_templates_include_the_bias():
    w = torch.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 1.0], [2.0, 1.0, 0.0], [5.0, -1.0, 4.0]])
    b = torch.tensor([10.0, 20.0, 30.0, 40.0])
    t = templates(w, b, [0, 2, 3])
    assert t.shape == (3, 4)
    assert t[:, -1].tolist() == [10.0, 30.0, 40.0]
    assert torch.equal(t[1, :3], w[2].double())
    # changing only the biases moves the plane: the bias is part of the geometry
    b2 = b.clone()
    b2[2] += 5
    assert not torch.allclose(plane_basis(templates(w, b2, [0, 2, 3])), plane_basis(t))


def test_lift_appends_a_one():
    x = torch.rand(5, 7)
    lx = lift(x)
    assert lx.shape == (5, 8) and (lx[:, -1] == 1).all() and torch.equal(lx[:, :7], x.double())


def test_basis_is_orthonormal_and_spans_the_template_differences():
    g = torch.Generator().manual_seed(0)
    t = torch.randn(3, 50, generator=g, dtype=torch.float64)
    q = plane_basis(t)
    assert torch.allclose(q.T @ q, torch.eye(2, dtype=torch.float64), atol=1e-12)
    for d in (t[1] - t[0], t[2] - t[0]):
        assert torch.allclose(q @ (q.T @ d), d, atol=1e-10)   # in the span: projection is exact


def test_a_point_on_the_plane_is_recovered_exactly():
    g = torch.Generator().manual_seed(1)
    q = plane_basis(torch.randn(3, 20, generator=g, dtype=torch.float64))
    coords = torch.tensor([[1.5, -2.0], [0.0, 3.25], [-7.0, 0.5]], dtype=torch.float64)
    points = coords @ q.T
    assert torch.allclose(project(points, q), coords, atol=1e-12)
    # an off-plane component is dropped
    normal = torch.randn(20, generator=g, dtype=torch.float64)
    normal -= q @ (q.T @ normal)
    assert torch.allclose(project(points + normal, q), coords, atol=1e-10)


def test_collinear_templates_are_refused():
    t = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="collinear"):
        plane_basis(t)


def _clusters(centres, spread, n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.cat([torch.tensor(c, dtype=torch.float64) + spread * torch.randn(n, 2, generator=g,
                                                                                 dtype=torch.float64)
                    for c in centres])
    return xy, torch.arange(3).repeat_interleave(n)


EQUILATERAL = [(0.0, 0.0), (1.0, 0.0), (0.5, math.sqrt(3) / 2)]


def test_tight_clusters_score_better_than_loose_ones():
    tight = cluster_metrics(*_clusters(EQUILATERAL, 0.05))
    loose = cluster_metrics(*_clusters(EQUILATERAL, 0.3))
    assert tight["tightness"] < loose["tightness"]
    assert tight["tightness"] == pytest.approx(0.05 * math.sqrt(2), rel=0.15)  # RMS radius of a 2-D Gaussian


def test_equidistance_is_zero_for_an_equilateral_triangle_and_grows_otherwise():
    eq = cluster_metrics(*_clusters(EQUILATERAL, 0.0))
    assert eq["equidistance"] == pytest.approx(0.0, abs=1e-12)
    assert eq["separation"] == pytest.approx(1.0)
    skew = cluster_metrics(*_clusters([(0.0, 0.0), (1.0, 0.0), (5.0, 0.5)], 0.0))
    assert skew["equidistance"] > 0.3


def test_metrics_do_not_depend_on_the_scale_of_the_plot():
    xy, y = _clusters(EQUILATERAL, 0.1)
    a, b = cluster_metrics(xy, y), cluster_metrics(10 * xy, y)
    assert a["tightness"] == pytest.approx(b["tightness"]) and a["equidistance"] == pytest.approx(b["equidistance"])


def test_sampling_more_examples_than_a_class_has_names_the_parameter():
    from pipeline.config import ParamError
    from pipeline.stages.project import sample
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2, 2])
    idx = sample(labels, [0, 2], 2, torch.Generator().manual_seed(0), "toy")
    assert sorted(labels[idx].tolist()) == [0, 0, 2, 2]
    with pytest.raises(ParamError, match="project.examples_per_class = 3.*class 0 of toy has only 2"):
        sample(labels, [0, 1], 3, torch.Generator().manual_seed(0), "toy")
