"""params.yaml validation: impossible values stop the run with key, value and what is allowed."""
from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from pipeline.config import ParamError, alphas_to_train, load_params, validate
from pipeline.config.checks import convnets_used as convnets_needed


@pytest.fixture(scope="module")
def params(root):
    with open(root / "params.yaml") as f:
        return yaml.safe_load(f)


def test_shipped_params_are_valid_and_profile_resolves(params):
    p = validate(params)
    assert p["active"] == params["profiles"][params["profile"]]
    assert set(params["profiles"]) >= {"default", "paper"}


def _bad(params, path: str, value):
    p = copy.deepcopy(params)
    *head, last = path.split(".")
    node = p
    for k in head:
        node = node[k]
    node[last] = value
    with pytest.raises(ParamError) as e:
        validate(p)
    return e.value


@pytest.mark.parametrize("path,value,key", [
    ("alpha", 1.0, "alpha"),
    ("alpha", -0.1, "alpha"),
    ("alpha", "0.1", "alpha"),
    ("sweep", [0.0, 1.2], "sweep[1]"),
    ("profiles.default.fcn_epochs", 0, "profiles.default.fcn_epochs"),
    ("profiles.default.fcn_epochs", -3, "profiles.default.fcn_epochs"),
    ("profiles.default.datasets", ["mnist", "imagenet21k"], "profiles.default.datasets[1]"),
    ("fcn.batch_size", 0, "fcn.batch_size"),
    ("fcn.lr", [1.0, 1.0], "fcn.lr"),
    ("fcn.dropout", 1.0, "fcn.dropout"),
    ("execution.device", "tpu", "execution.device"),
    ("profile", "huge", "profile"),
    ("data.val_size", 0, "data.val_size"),
    ("data.val_size", 60000, "data.val_size"),                 # all of MNIST's training split
    ("data.val_size", 30001, "data.val_size"),                 # leaves less than half for training
    ("data.val_size_by_dataset.cub200", 3000, "data.val_size_by_dataset.cub200"),  # of 5,994 (paper profile)
    ("project.classes.mnist", ["0", "1", "ten"], "project.classes.mnist"),
    ("project.classes.mnist", ["0", "1"], "project.classes.mnist"),
    ("project.heldout_split", "train", "project.heldout_split"),
    ("project.train_augmented", "yes", "project.train_augmented"),
    ("calibrate.t_grid_max", 0.1, "calibrate.t_grid_max"),
    ("profiles.default.translation.epochs", -1, "profiles.default.translation.epochs"),
    ("profiles.default.translation.model.heads", 3, "profiles.default.translation.model.d_model"),
    ("profiles.default.datasets", ["mnist", "fashion_mnist", "cifar10_jpeg"], "profiles.default.datasets"),
    ("translation.bleu_temperatures", [0.5, 2.0], "translation.bleu_temperatures"),
    ("translation.token_temperatures.max", 0.4, "translation.token_temperatures.max"),
    ("translation.adam.betas", [0.9, 0.98, 0.5], "translation.adam.betas"),
    ("translation.beam", 0, "translation.beam"),
    ("profiles.default.translation.lr", 0, "profiles.default.translation.lr"),
])
def test_invalid_values_name_key_value_and_allowed(params, path, value, key):
    err = _bad(params, path, value)
    assert err.key == key
    assert repr(err.value) in str(err) or repr(value) in str(err)
    assert "expected" in str(err)


def test_unknown_key_is_an_error(params):
    p = copy.deepcopy(params)
    p["fcn"]["hiden"] = [10]
    with pytest.raises(ParamError, match="fcn.hiden.*no such key"):
        validate(p)
    p = copy.deepcopy(params)
    p["learning_rate"] = 0.1
    with pytest.raises(ParamError, match="learning_rate"):
        validate(p)


def test_missing_key_is_an_error(params):
    p = copy.deepcopy(params)
    del p["fcn"]["momentum"]
    with pytest.raises(ParamError, match="fcn.momentum"):
        validate(p)


def test_alphas_to_train_is_union_of_hard_sweep_and_alpha(params):
    p = copy.deepcopy(params)
    p["alpha"], p["sweep"] = 0.2, [0.05, 0.1]
    assert alphas_to_train(validate(p)) == [0.0, 0.05, 0.1, 0.2]


def test_a_stage_refuses_bad_params_before_any_work(tmp_path, root, params):
    p = copy.deepcopy(params)
    p["alpha"] = 1.5
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    r = subprocess.run([sys.executable, "-m", "pipeline.stages.download"], cwd=tmp_path, capture_output=True,
                       text=True, env={"PYTHONPATH": str(root), "PATH": ""})
    assert r.returncode == 2
    assert "alpha = 1.5" in r.stderr and "[0, 1)" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "data").exists()


def test_load_params_reads_a_file(tmp_path, params):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    assert load_params(tmp_path / "p.yaml")["alpha"] == params["alpha"]


def _stage(tmp_path, root, module="pipeline.stages.download"):
    return subprocess.run([sys.executable, "-m", module], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": ""})


def test_malformed_params_file_is_one_line_and_exit_2(tmp_path, root):
    (tmp_path / "params.yaml").write_text("profile: default\nalpha: [0.1\nsweep: x\n")
    r = _stage(tmp_path, root)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: params.yaml is not valid YAML at line") and r.stderr.count("\n") == 1


def test_cuda_on_a_machine_without_cuda_is_refused_before_any_work(tmp_path, root, params):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    p = copy.deepcopy(params)
    p["execution"]["device"] = "cuda"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    r = _stage(tmp_path, root)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "execution.device = 'cuda'" in r.stderr and "no CUDA device" in r.stderr
    assert not (tmp_path / "data").exists()


def test_a_misspelled_profile_names_the_profiles_that_exist(tmp_path, root, params):
    p = copy.deepcopy(params)
    p["profile"] = "defualt"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    r = _stage(tmp_path, root)
    assert r.returncode == 2 and "profile = 'defualt'" in r.stderr
    assert all(name in r.stderr for name in params["profiles"])


def test_an_unwritable_output_folder_is_one_line_and_keeps_the_old_files(tmp_path, root, params):
    import os
    if os.geteuid() == 0:  # root writes through read-only permissions; an unwritable path stands in
        pytest.skip("running as root: permissions do not stop root")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw").mkdir(mode=0o555)
    r = _stage(tmp_path, root)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "cannot write" in r.stderr


def test_a_permission_error_in_a_stage_is_one_line_and_exit_2(capsys):
    from pipeline.stage import run

    def main():
        raise PermissionError(13, "Permission denied", "metrics/train.json")
    with pytest.raises(SystemExit) as e:
        run(main)
    assert e.value.code == 2
    assert capsys.readouterr().err == ("error: cannot write metrics/train.json: Permission denied "
                                       "(make the folder writable and run again)\n")


@pytest.mark.parametrize("module, name", [(m, n) for m, names in __import__("pipeline.stage", fromlist=["x"])
                                          .USER_ERRORS.items() for n in names])
def test_every_user_error_is_one_line_and_exit_2_and_other_errors_keep_their_traceback(module, name, capsys):
    import importlib

    from pipeline.stage import run
    err = getattr(importlib.import_module(module), name)

    def main():
        raise err.__new__(err)  # construct without the class's own arguments
    with pytest.raises(SystemExit) as e:
        run(main)
    assert e.value.code == 2 and capsys.readouterr().err.startswith("error: ")

    def bug():
        raise KeyError("a bug")
    with pytest.raises(KeyError):
        run(bug)


@pytest.mark.parametrize("path,value,key", [
    ("profiles.default.sweep_models", ["fcn", "vgg16"], "profiles.default.sweep_models[1]"),
    ("profiles.default.figure8_teacher", "fcn", "profiles.default.figure8_teacher"),
    ("profiles.default.mi_model", "resnet20", "profiles.default.mi_model"),
    ("distill.figure8.student", "transformer", "distill.figure8.student"),
    ("profiles.default.classifiers.vgg16", ["cifar10"], "profiles.default.classifiers.vgg16"),
    ("profiles.default.schedules.vgg16", {"unit": "steps", "length": 2, "milestones": [], "snapshot_every": None},
     "profiles.default.schedules.vgg16"),
    ("profiles.default.classifiers.alexnet", ["mnist"], "profiles.default.classifiers.alexnet[0]"),
])
def test_a_profile_names_only_the_convnets_of_the_convnets_section(params, path, value, key):
    assert _bad(params, path, value).key == key


def test_the_convnets_are_the_model_files_that_say_so_and_each_one_trained_has_a_schedule(params):
    """The convnets are the keys of params' ``convnets`` section: each is a model file declaring CONVNET = True
    (which channels_last follows), with a title. A profile gives a schedule to each convnet it trains, and only
    to those; one it does not list under ``classifiers`` trains no classifier there."""
    from pipeline.models import MODELS, is_convnet, title
    assert set(params["convnets"]) == {m for m in MODELS if is_convnet(m)} == {"alexnet", "resnet56", "resnet34",
                                                                                 "resnet50"}
    assert [title(m) for m in ("fcn", "alexnet", "resnet56", "transformer")] == ["FCN", "AlexNet", "ResNet-56",
                                                                               "Transformer"]
    p = copy.deepcopy(params)
    p["convnets"]["vgg16"] = p["convnets"]["alexnet"]
    with pytest.raises(ParamError, match=r"convnets.vgg16 .* a model file"):
        validate(p)
    p = copy.deepcopy(params)
    assert p["profiles"]["extended"]["classifiers"]["resnet56"]
    del p["profiles"]["extended"]["schedules"]["resnet56"]
    with pytest.raises(ParamError, match=r"profiles\.extended\.schedules .*each convnet the profile trains.*resnet56"):
        validate(p)
    for used in ("figure8_teacher", "mi_model"):  # a convnet that trains outside Table 2 needs its schedule too
        p = copy.deepcopy(params)
        prof = p["profiles"]["default"]  # runs Figures 6 and 8
        prof["classifiers"] = {"fcn": prof["classifiers"]["fcn"], "alexnet": prof["classifiers"]["alexnet"]}
        prof[used] = "resnet34"
        prof["schedules"] = {m: prof["schedules"][m] for m in convnets_needed(p, prof) - {"resnet34"}}
        with pytest.raises(ParamError, match=r"missing: resnet34"):
            validate(p)
    # The reference profile trains no convnet: without any of them it is the same profile, every convnet at []
    p = copy.deepcopy(params)
    ref = p["profiles"]["reference"]
    ref["classifiers"] = {"fcn": ref["classifiers"]["fcn"]}
    ref["schedules"] = {}
    p["profile"] = "reference"
    v = validate(p)
    assert v["active"]["classifiers"] == validate({**params, "profile": "reference"})["active"]["classifiers"]
    assert list(v["active"]["classifiers"])[0] == "fcn" and v["active"]["classifiers"]["alexnet"] == []
