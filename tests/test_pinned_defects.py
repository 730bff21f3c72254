"""Defects a one-line bug would bring back, each pinned against a value worked out independently."""
from __future__ import annotations

import math

import pytest
import torch

from pipeline.formulas import reliability as cal


def _calibrated_set(t_true: float, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits z and labels drawn from softmax(z / t_true): the NLL-optimal temperature is ≈ t_true."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 10, generator=g, dtype=torch.float64) * 3
    y = torch.multinomial(torch.softmax(z / t_true, 1), 1, generator=g).squeeze(1)
    return z, y


def test_temperature_is_fitted_on_validation_never_on_the_reported_split():
    from pipeline.stages.calibrate import calibrate_run
    zv, yv = _calibrated_set(2.0, 20000, 0)
    zt, yt = _calibrated_set(0.7, 20000, 1)
    assert abs(cal.fit_temperature(zt, yt).temperature - 0.7) < 0.05  # the two splits' optima differ
    m = calibrate_run({"val_logits": zv, "val_labels": yv, "test_logits": zt, "test_labels": yt},
                      {"n_bins": 15, "t_grid_min": 0.25, "t_grid_max": 5.0, "t_grid_steps": 96})
    assert abs(m["temperature"] - 2.0) < 0.05 and abs(m["temperature_ece_grid"] - 2.0) < 0.1
    assert m["test_ece_ts"] == cal.ece_from_logits(zt, yt, m["temperature"], 15)


def test_nll_before_is_at_t_1_and_the_fit_lowers_validation_nll():
    z, y = _calibrated_set(2.0, 5000, 2)
    fit = cal.fit_temperature(z, y)
    assert fit.nll_before == cal.nll(z, y, 1.0)
    assert fit.nll_after < fit.nll_before - 1e-3  # T = 2 is far from 1: a strict decrease is guaranteed here
    assert math.isclose(fit.nll_after, cal.nll(z, y, fit.temperature), rel_tol=1e-9)


def test_cluster_metrics_against_hand_computed_values():
    from pipeline.formulas.template_plane import cluster_metrics
    offsets = torch.tensor([[1.0, 0], [-1, 0], [0, 2], [0, -2]])  # distances 1, 1, 2, 2: RMS √2.5, mean 1.5
    cents = torch.tensor([[0.0, 0], [4, 0], [0, 3]])                # centroid distances 4, 3, 5
    xy = torch.cat([c + offsets for c in cents])
    labels = torch.arange(3).repeat_interleave(4)
    m = cluster_metrics(xy, labels)
    assert math.isclose(m["separation"], 4.0, rel_tol=1e-6)
    assert math.isclose(m["spread"], math.sqrt(2.5), rel_tol=1e-6)          # RMS, not the mean distance 1.5
    assert math.isclose(m["tightness"], math.sqrt(2.5) / 4, rel_tol=1e-6)
    assert math.isclose(m["equidistance"], math.sqrt(2 / 3) / 4, rel_tol=1e-6)  # population std; unbiased: 1/4


def test_random_shift_draws_every_offset_including_the_largest():
    from pipeline.data.augment import random_shift
    x = torch.zeros(2000, 1, 9, 9)
    x[:, 0, 4, 4] = 1  # a dot in the centre: where it lands is the shift
    out = random_shift(x, 2, torch.Generator().manual_seed(0))
    pos = out[:, 0].flatten(1).argmax(1)
    shifts = {(int(p) // 9 - 4, int(p) % 9 - 4) for p in pos}
    assert shifts == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}


def test_random_crop_draws_every_offset_including_the_last():
    from pipeline.data.augment import random_crop
    x = torch.arange(32 * 32, dtype=torch.float32).reshape(1, 1, 32, 32).repeat(3000, 1, 1, 1)
    out = random_crop(x, 24, torch.Generator().manual_seed(0))
    corner = out[:, 0, 0, 0].long()
    offsets = {(int(c) // 32, int(c) % 32) for c in corner}
    assert offsets == {(top, left) for top in range(9) for left in range(9)}


def test_alexnet_pooling_pads_right_and_bottom_as_tensorflow_same():
    from pipeline.models.alexnet import SamePool
    n = 24
    img = torch.arange(n * n, dtype=torch.float32).reshape(1, 1, n, n)
    out = SamePool()(img)[0, 0]
    # TF SAME, 3x3 stride 2 on 24: 12 outputs, 1 padding row/column, all of it after (right, bottom)
    want = torch.tensor([[float(min(2 * i + 2, n - 1) * n + min(2 * j + 2, n - 1)) for j in range(12)]
                         for i in range(12)])
    assert torch.equal(out, want)


def test_epoch_batches_depend_on_their_seed_and_only_on_it():
    from pipeline.training.loop import EpochBatches
    a, b = EpochBatches(1000, 100, 0, torch.device("cpu")), EpochBatches(1000, 100, 1, torch.device("cpu"))
    assert not torch.equal(a(0), b(0)) and not torch.equal(a(10), b(10))
    assert torch.equal(a(3), EpochBatches(1000, 100, 0, torch.device("cpu"))(3))
    assert sorted(torch.cat([a(i) for i in range(10)]).tolist()) == list(range(1000))


@pytest.mark.parametrize("lo, hi", [(1.0, 1.0), (2.0, 1.0)])
def test_an_empty_temperature_grid_is_refused(root, lo, hi):
    import yaml

    from pipeline.config import ParamError, validate
    p = yaml.safe_load((root / "params.yaml").read_text())
    p["calibrate"].update(t_grid_min=lo, t_grid_max=hi)
    with pytest.raises(ParamError, match="calibrate.t_grid_max"):
        validate(p)


def test_the_paper_profile_resolves_to_the_papers_settings(root):
    import yaml

    from pipeline.config import alphas_to_train, validate
    from pipeline.run_configs import convnet_config, label_smoothing
    p = yaml.safe_load((root / "params.yaml").read_text())
    p["profile"] = "paper"
    p = validate(p)
    b = p["active"]
    assert b["seeds"] == [0, 1, 2, 3, 4] and b["distill_seeds"] == [0, 1, 2, 3, 4] and b["fcn_epochs"] == 100
    assert p["fcn"]["batch_size"] == 512 and p["fcn"]["lr"] == [1.0, 1.0, 0.1]
    assert alphas_to_train(p, "fcn") == [0.0, 0.05, 0.1, 0.15, 0.3]
    assert b["distill_alphas"] == [0.0, 0.15, 0.3, 0.45, 0.6, 0.75] and 3 in b["distill_temperatures"]
    assert b["distill_temperatures"] == [1, 2, 3, 4, 8, 12, 16]
    assert p["distill"]["figure8"]["beta"] == 1.0 and p["distill"]["figure7"]["beta"] == 0.6
    assert p["distill"]["table4"]["ce_weight"] == 0.4 and b["mi_examples_per_class"] * 2 == 600
    alex = convnet_config(p, "alexnet", "cifar10", 0, label_smoothing(0.0, 3.0))
    assert alex["steps"] == 390_000 and alex["schedule"]["milestones"] == [130_000, 260_000]
    res = convnet_config(p, "resnet56", "cifar100", 0, label_smoothing(0.0, 3.0))
    assert res["steps"] == 64_000 and res["schedule"]["milestones"] == [32_000, 48_000]
    assert res["snapshot_every"] == 4000 and res["model"]["stem_kernel"] == 3  # Müller's 3×3 stem on CIFAR-100
    assert res["loss"] == {"kind": "label_smoothing", "alpha": 0.0, "scale": 3.0}


def test_the_transformer_is_built_as_the_replications_get_model(root):
    """Xavier-uniform on every matrix, embeddings and output projection included, and dropout 0,
    reached through the config the translation stages use (sdwagner/re-labelsmoothing, getModel)."""
    import yaml

    from pipeline.config import validate
    from pipeline.text.translation_run import build, translation_config
    p = validate(yaml.safe_load((root / "params.yaml").read_text()))
    cfg = translation_config(p, 0.1, 0, {"en": 300, "de": 200}, 1000)
    assert cfg["model"]["dropout"] == 0.0 and cfg["model"]["init"] == "xavier"
    torch.manual_seed(0)
    model = build(cfg)
    assert all(m.p == 0.0 for m in model.modules() if isinstance(m, torch.nn.Dropout))
    d = cfg["model"]["d_model"]
    for name, w, fans in [("src_emb", model.src_emb.weight, (d, 300)), ("tgt_emb", model.tgt_emb.weight, (d, 200)),
                          ("head", model.head.weight, (d, 200))]:
        bound = math.sqrt(6 / sum(fans))  # xavier_uniform_: U(-b, b), b = √(6 / (fan_in + fan_out))
        assert w.abs().max() <= bound, name
        assert w.abs().max() > 0.95 * bound, name  # N(0, 1) or kaiming would exceed or miss it by far
    # the modules' defaults, kept under init: pytorch, are not Xavier (N(0, 1) embeddings)
    torch.manual_seed(0)
    plain = build(cfg | {"model": cfg["model"] | {"init": "pytorch"}})
    assert plain.src_emb.weight.std() > 0.9


def test_transformer_temperature_is_fitted_on_validation_never_on_test(monkeypatch):
    """evaluate_run gets validation and test tokens whose NLL-optimal temperatures differ (2.0, 0.7)."""
    from pipeline.text import evaluate as ev
    zv, yv = _calibrated_set(2.0, 20000, 3)
    zt, yt = _calibrated_set(0.7, 20000, 4)
    val = {"src": {"ids": torch.zeros(3, 2, dtype=torch.long), "len": torch.ones(3)}}
    test = {"src": {"ids": torch.zeros(3, 2, dtype=torch.long), "len": torch.ones(3)}}
    monkeypatch.setattr(ev, "teacher_forced_logits", lambda model, split, bs: (zv, yv) if split is val else (zt, yt))
    monkeypatch.setattr(ev, "decode_text", lambda *a, **k: ["ein hund läuft"] * 3)
    t = {"eval_batch_size": 8, "bleu_temperatures": [1.0], "token_temperatures": {"min": 0.5, "max": 2.0, "steps": 4},
         "beam": 4}
    refs = {s: ["ein hund läuft"] * 3 for s in ("val", "test")}
    r = ev.evaluate_run(None, {"val": val, "test": test}, refs, None, t, None, 15)
    m = r["metrics"]
    assert abs(m["temperature"] - 2.0) < 0.05
    assert m["val_nll"] == cal.nll(zv, yv, 1.0) and m["test_nll_ts"] == cal.nll(zt, yt, m["temperature"])
    assert m["val_ece"] == cal.ece_from_logits(zv, yv, 1.0, 15)
    assert m["test_ece"] == cal.ece_from_logits(zt, yt, 1.0, 15)


def test_epoch_schedules_convert_with_the_real_training_split(root, tmp_path, monkeypatch):
    """The paper profile's ResNet-34 on CUB and ResNet-50 on Tiny ImageNet: epochs become
    ⌈(official training split − validation) / batch⌉ steps: 22 a CUB epoch (5,394 / 256),
    743 a Tiny ImageNet epoch (95,000 / 128), never an assumed size."""
    import json

    import yaml

    from pipeline import run_configs as runs
    from pipeline.config import validate
    from pipeline.data import registry
    p = yaml.safe_load((root / "params.yaml").read_text())
    p["profile"] = "paper"
    p = validate(p)
    d = p["data"]
    for name in ("cub200", "tiny_imagenet"):  # the sizes preprocess writes for these splits
        n = registry.get(name).sizes[0] - d["val_size_by_dataset"].get(name, d["val_size"])
        (tmp_path / f"{name}.json").write_text(json.dumps({"sizes": {"train": n}}))
    monkeypatch.setattr(runs.prepared, "paths", lambda ds: (tmp_path / f"{ds}.pt", tmp_path / f"{ds}.json"))
    monkeypatch.setattr(runs, "_channel_stats", lambda ds: ([0.5] * 3, [0.25] * 3))  # needs the images, not here
    for arch, ds, per_epoch in (("resnet34", "cub200", 22), ("resnet50", "tiny_imagenet", 743)):
        s = p["active"]["schedules"][arch]
        cfg = runs.convnet_config(p, arch, ds, 0, runs.label_smoothing(0.0))
        assert s["unit"] == "epochs"
        assert cfg["steps"] == s["length"] * per_epoch, arch
        assert cfg["schedule"]["milestones"] == [m * per_epoch for m in s["milestones"]], arch


def test_figure2_examples_are_drawn_without_augmentation_unless_the_param_says_so():
    from pipeline.data import inputs
    from pipeline.stages.project import model_view
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (64, 28, 28), generator=g, dtype=torch.uint8)
    icfg = {"augment": "shift", "max_shift": 2, "standardize": "none"}
    plain = inputs.eval_batch(x, icfg)
    for split in ("train", "test"):
        assert torch.equal(model_view(x, icfg, split, False, torch.Generator().manual_seed(1)), plain)
    assert torch.equal(model_view(x, icfg, "test", True, torch.Generator().manual_seed(1)), plain)
    shifted = model_view(x, icfg, "train", True, torch.Generator().manual_seed(1))
    assert torch.equal(shifted, inputs.train_batch(x, icfg, torch.Generator().manual_seed(1)))
    assert not torch.equal(shifted, plain)  # a fixed (seeded) draw of 64 shifts, not all (0, 0)


class _TableDecoder:
    """A stub translation model whose next-token probabilities depend only on the prefix (a table):
    beam search on it has answers worked out by hand. Vocabulary: PAD, BOS, EOS, UNK, a (4), b (5)."""

    def __init__(self, table: dict[tuple, dict[int, float]]):
        self.table = table

    def eval(self):
        return self

    def encode(self, src):
        return torch.zeros(len(src), 1, 1), torch.zeros(len(src), 1, dtype=torch.bool)

    def step(self, memory, pad, cache, token):
        seen = token[:, None] if cache is None else torch.cat([cache[0], token[:, None]], 1)
        rows = []
        for prefix in seen[:, 1:].tolist():  # without BOS
            p = torch.full((6,), 1e-12, dtype=torch.float64)
            for tok, prob in self.table.get(tuple(prefix), {2: 1.0}).items():
                p[tok] = prob
            rows.append(p.log())
        return torch.stack(rows), [seen]


def test_beam_scores_a_finished_hypothesis_with_its_own_length_penalty():
    """EOS at once: log p = −1 over length 1; "a EOS": −1.18 over length 2. With lp = 1 the penalties
    are 1 and 7/6: −1 > −1.18·6/7 = −1.011, so the empty translation wins. Dividing by the penalty of one
    token fewer (5/6 and 1) would prefer "a" (−1.2 < −1.18)."""
    import math

    from pipeline.text.decoding import beam_search
    model = _TableDecoder({(): {2: math.exp(-1.0), 4: 0.5, 5: 1 - math.exp(-1.0) - 0.5 - 1e-3, 3: 1e-3},
                           (4,): {2: math.exp(-0.487), 4: 0.2, 5: 1 - math.exp(-0.487) - 0.2 - 1e-3, 3: 1e-3},
                           (5,): {2: 1e-3, 4: 0.5, 5: 0.499}})
    assert beam_search(model, torch.zeros(1, 3, dtype=torch.long), 2, beam=2, length_penalty=1.0) == [[]]


def test_beam_stops_only_when_no_live_hypothesis_can_still_win():
    """After one step the best finished score is −1 (EOS at once) and the live "a" has −1.08. With lp = 1
    and max_len 2 it could still reach −1.08 / (7/6) = −0.926 > −1, and does: "a EOS" scores
    (−1.08 − 0.0513) / (7/6) = −0.970. A bound at one token less (−1.08 / 1) would stop with the empty one."""
    import math

    from pipeline.text.decoding import beam_search
    p_eos, p_a = math.exp(-1.0), math.exp(-1.08)
    model = _TableDecoder({(): {2: p_eos, 4: p_a, 5: 1 - p_eos - p_a - 1e-3, 3: 1e-3},
                           (4,): {2: 0.95, 4: 0.03, 5: 0.019, 3: 1e-3},
                           (5,): {2: 1e-3, 4: 0.5, 5: 0.499}})
    assert beam_search(model, torch.zeros(1, 3, dtype=torch.long), 2, beam=2, length_penalty=1.0) == [[4]]
