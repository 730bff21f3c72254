"""The GPU plan and its pieces (tools/gpu, pipeline/snapshots/plan.py): params per piece, the merge, packing,
stage order and the training-sample counts the estimates use. Without running a session."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_gpu_session import _project  # the rehearsal's tiny project (tests/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]


def test_pack_skips_done_pieces_and_names_what_does_not_fit(tmp_path, mirror):
    from pipeline.gpu_session.carry import pack
    proj = _project(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
    info = pack("smoke", mirror, limit_mib=64, root=proj)
    assert info["datasets"] == ["mnist", "multi30k"] and info["done"] == []
    assert (proj / ".gpu" / "datasets" / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()
    info = pack("smoke", mirror, limit_mib=5, root=proj)  # MNIST is 11 MiB
    assert "mnist" not in info["datasets"] and "does not fit" in info["left_out"][0]["why"]
    (proj / "results/smoke/provenance.json").write_text(json.dumps(
        {"pieces": {p: {"done": True} for p in ("fcn", "long")}}))
    assert pack("smoke", mirror, root=proj)["datasets"] == []


def test_pieces_are_the_base_plus_their_settings_and_the_merge_unites_them():
    from pipeline.snapshots.plan import merged_params, piece_params
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    plan = yaml.safe_load((ROOT / "results/paper_offline/gpu_plan.yaml").read_text())
    by = {p["name"]: p for p in plan["pieces"]}
    tables = piece_params(params, plan, by["fcn_tables"])["profiles"]["paper_offline"]
    assert tables["classifiers"] == {"fcn": ["mnist", "fashion_mnist"], "alexnet": [], "resnet56": [],
                                     "resnet34": [], "resnet50": []}
    assert tables["seeds"] == [0, 1, 2, 3, 4] and tables["fcn_epochs"] == 100 and tables["mi_dataset"] is None
    tr = piece_params(params, plan, by["transformer"])["profiles"]["paper_offline"]["translation"]
    assert tr["seeds"] == [0] and tr["epochs"] == 18 and tr["model"]["d_model"] == 512
    m = merged_params(params, plan, ["fcn_tables", "resnet56"])["profiles"]["paper_offline"]
    assert m["classifiers"]["fcn"] == ["mnist", "fashion_mnist"] and m["classifiers"]["resnet56"] == ["cifar10_jpeg"]
    assert m["seeds"] == [0, 1, 2, 3, 4] and m["mi_dataset"] == "cifar10_jpeg"  # seeds: [0..4] ∪ [0]
    m = merged_params(params, plan, ["resnet56", "transformer"])["profiles"]["paper_offline"]
    assert m["seeds"] == [0] and m["translation"]["seeds"] == [0] and m["translation"]["epochs"] == 18


def test_merged_metrics_keep_the_earlier_piece_and_drop_stubs():
    from pipeline.gpu_session.fold import merge_json
    a = {"figure7": {"M1/alpha=0": {"accuracy": 99.0}}, "mi": {"skipped": "x"}}
    b = {"figure7": {"M1/alpha=0": {"accuracy": 98.0}}, "figure8": {"M1": 1}, "mi": {"run": 1}}
    assert merge_json(a, b) == {"figure7": {"M1/alpha=0": {"accuracy": 99.0}}, "figure8": {"M1": 1}, "mi": {"run": 1}}
    assert merge_json({"run": 1}, {"skipped": "y"}) == {"run": 1}


def test_stages_in_dvc_yaml_order_come_after_the_stages_whose_outputs_they_read():
    from pipeline.gpu_session.stages import stage_names
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    outs = {}
    for name, s in stages.items():
        body = s.get("do", s)
        for o in body.get("outs", []) + body.get("metrics", []) + body.get("plots", []):
            path = o if isinstance(o, str) else next(iter(o))
            outs[path.split("/${key}")[0]] = name
    order = stage_names()
    for name, s in stages.items():
        for dep in s.get("do", s).get("deps", []):
            producer = next((outs[o] for o in outs if dep == o or dep.startswith(o + "/")
                             or o.startswith(dep + "/")), None)
            if producer and producer != name:
                assert order.index(producer) < order.index(name), (name, dep, producer)


def test_training_samples_match_a_hand_count():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from cost import training_samples
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["profile"] = "smoke"  # 4,096 training images, 1 epoch, batch 512: 4,096 samples a run
    s = training_samples(p, ["train"])
    assert s == {"fcn": 5 * 4096, "alexnet": 0, "resnet56": 0, "transformer": 0}  # 5 alphas x 1 seed x mnist
    s = training_samples(p, ["teacher", "student"])  # 2 teachers; 4 students at (800·800+784·800+8000)/(…1200…)
    small = (784 * 800 + 800 * 800 + 800 * 10) / (784 * 1200 + 1200 * 1200 + 1200 * 10)
    assert s["fcn"] == pytest.approx(2 * 4096 + 4 * 4096 * small)
    p["profile"] = "paper"  # Müller's ResNet-56: 64k steps of 128; two alphas x 5 seeds x cifar10 and cifar100
    assert training_samples(p, ["train"])["resnet56"] == 5 * 5 * 2 * 64_000 * 128


def test_every_piece_of_the_paper_plan_passes_the_params_checks():
    """A misconfigured piece would fail on the GPU, minutes into a lease: check them all here."""
    from pipeline.config import validate
    from pipeline.snapshots.plan import piece_params
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    plan = yaml.safe_load((ROOT / "results/paper_offline/gpu_plan.yaml").read_text())
    dvc_stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for piece in plan["pieces"]:
        validate(piece_params(params, plan, piece))
        assert set(piece["stages"]) <= set(dvc_stages), piece["name"]
