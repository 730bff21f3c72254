"""The classifier zoo: input pipelines, optimisers and schedules, torchvision ResNets, and short real convnet
runs (its datasets: tests/test_zoo_data.py)."""
from __future__ import annotations

import math

import pytest
import torch

from pipeline.data import inputs
from pipeline.data.augment import random_affine
from pipeline.models import build_model
from pipeline.training.builders import build_optimizer, build_schedule


def test_per_image_standardization_is_tensorflows():
    x = torch.rand(4, 3, 8, 8)
    out = inputs.standardize(x, {"standardize": "per_image"})
    for i in range(4):  # tf.image.per_image_standardization: (x - mean) / max(std, 1/sqrt(N))
        ref = (x[i] - x[i].mean()) / max(x[i].std(unbiased=False).item(), 1 / math.sqrt(x[i].numel()))
        torch.testing.assert_close(out[i], ref)
    flat = torch.full((1, 3, 8, 8), 0.5)
    assert torch.equal(inputs.standardize(flat, {"standardize": "per_image"}), torch.zeros_like(flat))
    dim = 0.5 + 1e-3 * torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))  # std far below 1/√N
    torch.testing.assert_close(inputs.standardize(dim, {"standardize": "per_image"}),
                               (dim - dim.mean()) * math.sqrt(dim.numel()))  # divided by the floor 1/√N


def test_channel_stats_and_per_channel_standardization():
    x = torch.randint(0, 256, (50, 3, 5, 5), dtype=torch.uint8)
    mean, std = inputs.channel_stats(x, chunk=7)
    f = x.double() / 255
    torch.testing.assert_close(torch.tensor(mean, dtype=torch.float64), f.mean((0, 2, 3)))
    torch.testing.assert_close(torch.tensor(std, dtype=torch.float64), f.std((0, 2, 3), unbiased=False))
    out = inputs.standardize(f.float(), {"standardize": "per_channel", "mean": mean, "std": std})
    torch.testing.assert_close(out.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)


def test_alexnet_inputs_crop_24_for_training_and_centre_crop_for_test():
    cfg = {"augment": "crop_flip", "crop": 24, "standardize": "none"}
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    tr = inputs.train_batch(x, cfg, torch.Generator().manual_seed(0))
    ev = inputs.eval_batch(x, cfg)
    assert tr.shape == ev.shape == (16, 3, 24, 24)
    torch.testing.assert_close(ev, x[:, :, 4:28, 4:28].float() / 255)
    assert not inputs.is_deterministic(cfg) and inputs.is_deterministic({"augment": "shift", "max_shift": 0})


def test_affine_identity_leaves_images_unchanged_and_rotation_keeps_the_shape():
    x = torch.rand(3, 3, 16, 16)
    out = random_affine(x, torch.Generator().manual_seed(0), 0.0, 0.0, (1.0, 1.0))
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)
    rot = random_affine(x, torch.Generator().manual_seed(0), 45.0, 0.35, (0.65, 1.35))
    assert rot.shape == x.shape and not torch.allclose(rot, x)


def test_multistep_schedule_divides_the_rate_at_the_milestones():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = build_schedule(opt, {"kind": "multistep", "milestones": [3, 5], "gamma": 0.1}, 8)
    lrs = []
    for _ in range(7):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_alexnet_weight_decay_only_on_the_two_hidden_fc_weights():
    m = build_model("alexnet", (3, 32, 32), 10, {"crop": 24})
    opt = build_optimizer(m, {"lr": 0.1, "momentum": 0.0, "nesterov": False, "weight_decay": 0.04,
                              "decay_on": "model"})
    decayed = [g for g in opt.param_groups if g["weight_decay"] > 0]
    assert len(decayed) == 1 and {id(p) for p in decayed[0]["params"]} == {id(m.fc3.weight), id(m.fc4.weight)}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(m.parameters()))
    nest = build_optimizer(build_model("resnet56", (3, 32, 32), 10, {}),
                           {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4, "decay_on": "all"})
    assert nest.param_groups[0]["nesterov"] and nest.param_groups[0]["weight_decay"] == 1e-4


@pytest.mark.parametrize("name, params", [("resnet34", 21.4e6), ("resnet50", 23.9e6)])
def test_torchvision_resnets_need_local_weights_or_pretrained_false(name, params, tmp_path, monkeypatch):
    from pipeline.models._pretrained import MissingWeightsError
    monkeypatch.setenv("PRETRAINED_DIR", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(MissingWeightsError, match=rf"{name}-\w+\.pth.*download\.pytorch\.org.*pretrained: false"):
        build_model(name, (3, 64, 64), 200, {"pretrained": True})
    m = build_model(name, (3, 64, 64), 200, {"pretrained": False})
    assert m(torch.rand(2, 3, 64, 64)).shape == (2, 200)
    assert sum(p.numel() for p in m.parameters()) == pytest.approx(params, rel=0.02)
    # a local file with torchvision's name is found and loaded (weights_only)
    url_name = str(pytest.raises(MissingWeightsError, build_model, name, (3, 8, 8), 2, {}).value).split()[2]
    torch.save(m.body.state_dict() | {"fc.weight": torch.zeros(1000, m.head.in_features),
                                      "fc.bias": torch.zeros(1000)}, tmp_path / url_name)
    loaded = build_model(name, (3, 64, 64), 200, {"pretrained": True})
    torch.testing.assert_close(loaded.body.conv1.weight, m.body.conv1.weight)


def _toy_convnet(arch, tmp_path, monkeypatch, root):
    """A 4-step run config of ``arch`` on 64 random 32×32 images, with the repository's code."""
    from pipeline.config import load_params
    from pipeline.io import save_tensors, write_json
    from pipeline.run_configs import convnet_config, label_smoothing
    p = load_params(root / "params.yaml")
    monkeypatch.chdir(tmp_path)
    g = torch.Generator().manual_seed(0)
    save_tensors(tmp_path / "data/prepared/toy.pt",
                 {f"{s}_{k}": v for s in ("train", "val", "test")
                  for k, v in (("x", torch.randint(0, 256, (64, 3, 32, 32), generator=g, dtype=torch.uint8)),
                               ("y", torch.randint(0, 10, (64,), generator=g)))})
    write_json(tmp_path / "data/prepared/toy.json", {"num_classes": 10, "image_shape": [3, 32, 32],
                                                     "sizes": {"train": 64}})
    p["active"]["schedules"][arch] = {"unit": "steps", "length": 4, "milestones": [2], "snapshot_every": 2}
    return convnet_config(p, arch, "toy", 0, label_smoothing(0.1, 3.0))


@pytest.mark.parametrize("arch", ["alexnet", "resnet56"])
def test_a_short_convnet_run_trains_snapshots_and_evaluates(arch, tmp_path, monkeypatch, root):
    from pipeline.io import load_tensors, read_json
    from pipeline.training.run import train_run
    cfg = _toy_convnet(arch, tmp_path, monkeypatch, root)
    assert cfg["schedule"] == {"kind": "multistep", "milestones": [2], "gamma": 0.1}
    assert cfg["loss"]["scale"] == 3.0 and cfg["clip_grad_norm"] == (1.0 if arch == "resnet56" else None)
    m = train_run(tmp_path / "run", cfg, torch.device("cpu"), {"log_every": 2, "checkpoint_every": 2,
                                                                "eval_batch_size": 32})
    assert 0 <= m["test_acc"] <= 100 and math.isfinite(m["test_nll"])
    snaps = sorted(q.name for q in (tmp_path / "run/snapshots").iterdir())
    assert snaps == ["step_0000000.pt", "step_0000002.pt", "step_0000004.pt"]
    final = load_tensors(tmp_path / "run/model.pt")
    last = load_tensors(tmp_path / "run/snapshots/step_0000004.pt")
    assert all(torch.equal(final[k], last[k]) for k in final)
    logits = load_tensors(tmp_path / "run/logits.pt")
    assert logits["test_logits"].shape == (64, 10)
    assert read_json(tmp_path / "run/metrics.json")["config"]["input"] == cfg["input"]


def test_execution_settings_resolve_per_device_and_keep_the_cpu_default_fp32():
    from pipeline.training.builders import resolve_execution
    auto = {"precision": "auto", "channels_last": "auto", "compile": False, "stack": "auto"}
    assert resolve_execution(auto, torch.device("cpu"), "resnet56") == {"precision": "fp32", "channels_last": False,
                                                                "compile": False, "stack": False}
    assert resolve_execution(auto, torch.device("cuda"), "resnet56") == {"precision": "bf16", "channels_last": True,
                                                                 "compile": False, "stack": False}
    assert resolve_execution(auto, torch.device("cuda"), "fcn")["channels_last"] is False      # convnets only
    assert resolve_execution(auto | {"precision": "fp32"}, torch.device("cuda"), "alexnet")["precision"] == "fp32"
    # FCN runs that can stack do so on CUDA only: on 2 CPU cores one model at a time is faster
    assert resolve_execution(auto, torch.device("cuda"), "fcn", stackable=True)["stack"] is True
    assert resolve_execution(auto, torch.device("cpu"), "fcn", stackable=True)["stack"] is False
    assert resolve_execution(auto | {"stack": True}, torch.device("cpu"), "fcn", stackable=True)["stack"] is True
    assert resolve_execution(auto | {"stack": True}, torch.device("cpu"), "fcn", stackable=False)["stack"] is False


def test_channels_last_trains_the_same_weights_and_bf16_is_a_different_run(tmp_path, monkeypatch, root):
    from pipeline.io import load_tensors
    from pipeline.training.builders import cpu_has_native_bf16
    from pipeline.training.run import train_run
    cfg = _toy_convnet("resnet56", tmp_path, monkeypatch, root)
    base = {"log_every": 2, "checkpoint_every": 2, "eval_batch_size": 32}
    runs = {name: train_run(tmp_path / name, cfg, torch.device("cpu"), base | extra)
            for name, extra in {"plain": {}, "channels_last": {"channels_last": True}}.items()}
    assert runs["channels_last"]["execution"]["channels_last"] and runs["channels_last"]["key"] != runs["plain"]["key"]
    plain, cl = load_tensors(tmp_path / "plain/model.pt"), load_tensors(tmp_path / "channels_last/model.pt")
    # Another memory format: the same training up to float summation order. Four steps of a batch-norm
    # ResNet at lr 0.1 amplify last-bit differences to ~1e-3 in single weights (which convolution kernels
    # oneDNN picks differs between CPUs), so measure the distance between the two trained networks against
    # how far training moved them from their shared initialisation (the step-0 snapshot).
    init = load_tensors(tmp_path / "plain/snapshots/step_0000000.pt")
    keys = [k for k in plain if plain[k].is_floating_point()]

    def dist(a, b):
        return math.sqrt(sum(float((a[k].contiguous() - b[k].contiguous()).pow(2).sum()) for k in keys))
    ratio = dist(cl, plain) / dist(plain, init)
    assert ratio < 0.01, ratio
    for k in plain:
        if not plain[k].is_floating_point():  # BN's step counters
            assert torch.equal(cl[k], plain[k])
    # bf16 on the batch-norm ResNet where the CPU has it natively. Elsewhere PyTorch emulates bf16, which makes
    # these 4 steps cost 20 s instead of 2 (AVX2 EPYC), so there the AlexNet carries the same check.
    if not cpu_has_native_bf16():
        (tmp_path / "alexnet").mkdir()
        cfg = _toy_convnet("alexnet", tmp_path / "alexnet", monkeypatch, root)
        runs["plain"] = train_run(tmp_path / "alexnet/plain", cfg, torch.device("cpu"), base)
    bf16 = train_run(tmp_path / "bf16", cfg, torch.device("cpu"), base | {"precision": "bf16"})
    assert bf16["execution"]["precision"] == "bf16" and runs["plain"]["execution"]["precision"] == "fp32"
    assert bf16["key"] != runs["plain"]["key"]      # how a run executes is part of its identity
    assert math.isfinite(bf16["final_train_loss"])
    assert abs(bf16["final_train_loss"] - runs["plain"]["final_train_loss"]) < 0.1


def test_params_refuse_a_classifier_dataset_outside_the_profile_and_late_milestones(root):
    import yaml

    from pipeline.config import ParamError, validate
    raw = yaml.safe_load((root / "params.yaml").read_text())
    bad = yaml.safe_load((root / "params.yaml").read_text())
    bad["profiles"]["default"]["classifiers"]["alexnet"] = ["cifar100"]
    with pytest.raises(ParamError, match="profiles.default.classifiers.alexnet"):
        validate(bad)
    raw["profiles"]["default"]["schedules"]["resnet56"]["milestones"] = [300]
    with pytest.raises(ParamError, match="milestones"):
        validate(raw)


def test_student_loss_scale_multiplies_the_soft_target_loss():
    from pipeline.losses import build_loss, distill_soft_targets
    from pipeline.run_configs import soft_targets
    z, t, y = torch.randn(6, 10), torch.randn(6, 10), torch.randint(0, 10, (6,))
    scaled = build_loss(soft_targets(1.0, 4.0, 3.0))(z, y, t)
    torch.testing.assert_close(scaled, 3 * distill_soft_targets(z, t, y, 1.0, 4.0))
    assert soft_targets(0.6, 2.0) == {"kind": "soft_targets", "beta": 0.6, "temperature": 2.0}  # FCN keys unchanged


def test_mi_logit_gaps_reuse_the_same_augmentations_at_every_snapshot():
    from pipeline.stages.mutual_information import logit_gaps, sample_examples
    model = build_model("resnet56", (3, 32, 32), 10, {"depth": 8}).eval()
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    cfg = {"augment": "pad_crop_flip", "pad": 4, "standardize": "per_image"}
    a = logit_gaps(model, x, cfg, [0, 5], 3, seed=7, batch_size=4)
    b = logit_gaps(model, x, cfg, [0, 5], 3, seed=7, batch_size=4)
    assert a.shape == (6, 3) and torch.equal(a, b)
    assert not torch.equal(a[:, 0], a[:, 1])                 # different draws differ
    with torch.no_grad():
        z = model(inputs.train_batch(x, cfg, torch.Generator().manual_seed(7)))
    one_batch = logit_gaps(model, x, cfg, [0, 5], 1, seed=7, batch_size=6)
    torch.testing.assert_close(one_batch[:, 0], (z[:, 0] - z[:, 5]).double())
    labels = torch.tensor([0, 5, 0, 5, 1, 0, 5])
    idx = sample_examples(labels, [0, 5], 2, seed=0)
    assert labels[idx].tolist() == [0, 0, 5, 5] and len(set(idx.tolist())) == 4
