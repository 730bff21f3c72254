"""The params schema, owned by the code, and the loader every stage calls first.

``load_params()`` reads params.yaml, checks every key against SCHEMA (unknown
keys are errors too), runs the cross-field checks, and returns the params with
the active profile resolved under ``params["budget"]``. Any problem raises
ParamError naming the key, the value and what is allowed, before any work.
"""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Callable

import yaml

from .data.inputs import AUGMENTS, STANDARDIZE
from .data.registry import CIFAR, FCN_DATASETS, REGISTRY

Check = Callable[[str, Any], None]


class ParamError(ValueError):
    def __init__(self, key: str, value: Any, allowed: str):
        super().__init__(f"params.yaml: {key} = {value!r} is not allowed; expected {allowed}")
        self.key, self.value, self.allowed = key, value, allowed


def number(lo: float | None = None, hi: float | None = None, *, lo_open=False,
           hi_open=False, integer=False, nullable=False) -> Check:
    lo_s = "" if lo is None else ("(" if lo_open else "[") + str(lo)
    hi_s = "" if hi is None else str(hi) + (")" if hi_open else "]")
    kind = "an integer" if integer else "a number"
    allowed = kind + (f" in {lo_s or '(-inf'}, {hi_s or 'inf)'}" if lo is not None or hi is not None else "")
    allowed += " or null" if nullable else ""

    def check(key, v):
        if v is None and nullable:
            return
        ok = isinstance(v, int) if integer else isinstance(v, (int, float))
        if not ok or isinstance(v, bool) or (isinstance(v, float) and not math.isfinite(v)):
            raise ParamError(key, v, allowed)
        if lo is not None and (v < lo or (lo_open and v == lo)):
            raise ParamError(key, v, allowed)
        if hi is not None and (v > hi or (hi_open and v == hi)):
            raise ParamError(key, v, allowed)
    return check


def choice(*options: str) -> Check:
    def check(key, v):
        if v not in options:
            raise ParamError(key, v, "one of " + ", ".join(map(repr, options)))
    return check


def boolean(key, v):
    if not isinstance(v, bool):
        raise ParamError(key, v, "true or false")


def auto_bool(key, v):
    if v != "auto" and not isinstance(v, bool):
        raise ParamError(key, v, "auto, true or false")


def list_of(item: Check, min_len: int = 0, unique: bool = False) -> Check:
    def check(key, v):
        if not isinstance(v, list) or len(v) < min_len:
            raise ParamError(key, v, f"a list of at least {min_len} item(s)")
        for i, x in enumerate(v):
            item(f"{key}[{i}]", x)
        if unique and len({repr(x) for x in v}) != len(v):
            raise ParamError(key, v, "a list without repeated items")
    return check


def section(fields: dict[str, Check]) -> Check:
    def check(key, v):
        if not isinstance(v, dict):
            raise ParamError(key, v, "a mapping with keys " + ", ".join(fields))
        for k in v:
            if k not in fields:
                raise ParamError(f"{key}.{k}".lstrip("."), v[k], "no such key; known keys here: " + ", ".join(fields))
        for k, f in fields.items():
            if k not in v:
                raise ParamError(f"{key}.{k}".lstrip("."), None, "this key to be present")
            f(f"{key}.{k}".lstrip("."), v[k])
    return check


def mapping_of(value: Check, min_len: int = 1) -> Check:
    def check(key, v):
        if not isinstance(v, dict) or len(v) < min_len:
            raise ParamError(key, v, f"a mapping with at least {min_len} entries")
        for k, x in v.items():
            value(f"{key}.{k}", x)
    return check


ALPHA = number(0, 1, hi_open=True)
POS_INT = number(1, integer=True)
CONVNETS = ("alexnet", "resnet56", "resnet34", "resnet50")
IMAGE_DATASETS = ("cifar10", "cifar100", "cifar10_jpeg", "cub200", "tiny_imagenet")


def nullable(check: Check) -> Check:
    return lambda key, v: None if v is None else check(key, v)


def free_mapping(key, v):
    if not isinstance(v, dict):
        raise ParamError(key, v, "a mapping")


def input_section(key, v):
    """A convnet's ``input``: the augmentation's own keys must be there (pipeline/data/inputs.py)."""
    needs = {"none": {}, "shift": {"max_shift": number(0, 13, integer=True)},
             "crop_flip": {"crop": POS_INT}, "pad_crop_flip": {"pad": number(0, 16, integer=True)},
             "affine_flip": {"degrees": number(0, 180), "translate": number(0, 1),
                             "scale": list_of(number(0, lo_open=True), min_len=2)}}
    if not isinstance(v, dict):
        raise ParamError(key, v, "a mapping with augment and standardize")
    choice(*AUGMENTS)(f"{key}.augment", v.get("augment"))
    section({"augment": lambda k, x: None, "standardize": choice(*STANDARDIZE), **needs[v["augment"]]})(key, v)


SCHEDULE = section({
    "unit": choice("steps", "epochs"),
    "length": POS_INT,
    "milestones": list_of(POS_INT, unique=True),
    "snapshot_every": number(1, integer=True, nullable=True),
})
CONVNET = section({
    "model": free_mapping,
    "input": input_section,
    "batch_size": POS_INT,
    "optim": section({"lr": number(0, lo_open=True), "momentum": number(0, 1, hi_open=True),
                      "nesterov": boolean, "weight_decay": number(0), "decay_on": choice("all", "model")}),
    "lr_gamma": number(0, 1, lo_open=True),
    "loss_scale": number(0, lo_open=True),
    "clip_grad_norm": number(0, lo_open=True, nullable=True),
})

SCHEMA = section({
    "profile": lambda k, v: None,  # checked against `profiles` in _cross_checks
    "alpha": ALPHA,
    "sweep": list_of(ALPHA, min_len=1, unique=True),
    "profiles": mapping_of(section({
        "datasets": list_of(choice(*REGISTRY), min_len=1, unique=True),
        "classifiers": section({"fcn": list_of(choice(*FCN_DATASETS), unique=True),
                                **{a: list_of(choice(*IMAGE_DATASETS), unique=True) for a in CONVNETS}}),
        "sweep_models": list_of(choice("fcn", *CONVNETS, "transformer"), unique=True),
        "schedules": section({a: SCHEDULE for a in CONVNETS}),
        "seeds": list_of(number(0, integer=True), min_len=1, unique=True),
        "distill_seeds": list_of(number(0, integer=True), min_len=1, unique=True),
        "fcn_epochs": POS_INT,
        "max_train_examples": number(1, integer=True, nullable=True),
        "distill_alphas": list_of(ALPHA, min_len=1, unique=True),
        "distill_temperatures": list_of(number(0, lo_open=True), min_len=1, unique=True),
        "figure8_dataset": nullable(choice(*IMAGE_DATASETS)),
        "figure8_teacher": choice(*CONVNETS),
        "mi_dataset": nullable(choice(*IMAGE_DATASETS)),
        "mi_model": choice(*CONVNETS),
        "mi_examples_per_class": number(2, integer=True),
        "translation": section({
            "vocab_size": number(100, integer=True),
            "model": section({"d_model": POS_INT, "heads": POS_INT, "enc_layers": POS_INT, "dec_layers": POS_INT,
                              "ffn": POS_INT}),
            "epochs": POS_INT,
            "seeds": list_of(number(0, integer=True), min_len=1, unique=True),
            "lr": number(0, lo_open=True),
            "bleu_sentences": number(1, integer=True, nullable=True),
            "token_sentences": number(1, integer=True, nullable=True),
        }),
    })),
    "data": section({
        "val_size": POS_INT,
        "val_size_by_dataset": mapping_of(POS_INT, min_len=0),
        "split_seed": number(0, integer=True),
        "cifar_report": choice("heldout", "official_test"),
    }),
    "convnets": section({a: CONVNET for a in CONVNETS}),
    "fcn": section({
        "hidden": list_of(POS_INT, min_len=1),
        "init_std": number(0, lo_open=True),
        "dropout": number(0, 1, hi_open=True),
        "batch_size": POS_INT,
        "lr": list_of(number(0, lo_open=True), min_len=2),
        "momentum": number(0, 1, hi_open=True),
        "dampening": number(0, 1, hi_open=True),
        "weight_decay": number(0),
        "max_shift": number(0, 13, integer=True),
    }),
    "calibrate": section({
        "n_bins": POS_INT,
        "t_grid_min": number(0, lo_open=True),
        "t_grid_max": number(0, lo_open=True),
        "t_grid_steps": number(2, integer=True),
    }),
    "project": section({
        "examples_per_class": POS_INT,
        "sample_seed": number(0, integer=True),
        "heldout_split": choice("val", "test"),
        "train_augmented": boolean,
        "classes": mapping_of(list_of(lambda k, v: None, min_len=3, unique=True)),  # names: _check_projection_classes
    }),
    "distill": section({
        "dataset": choice(*FCN_DATASETS),
        "teacher_hidden": list_of(POS_INT, min_len=1),
        "student_hidden": list_of(POS_INT, min_len=1),
        "teacher_max_shift": number(0, 13, integer=True),
        "student_max_shift": number(0, 13, integer=True),
        "table4": section({
            "teachers": mapping_of(section({"alpha": ALPHA, "dropout": number(0, 1, hi_open=True)})),
            "ce_weight": number(0, 1),
            "student_lr": list_of(number(0, lo_open=True), min_len=2),
            "regress_on": choice("logits", "probabilities"),
            "compare_probabilities": boolean,
        }),
        "figure7": section({"beta": number(0, 1)}),
        "figure8": section({"student": choice(*CONVNETS), "beta": number(0, 1)}),
    }),
    "mutual_information": section({
        "classes": list_of(lambda k, v: None, min_len=2, unique=True),
        "augmentations": number(2, integer=True),
        "evaluated": choice("fresh", "one_of_l"),
        "pool": choice("evaluated", "within"),
        "sample_seed": number(0, integer=True),
        "augment_seed": number(0, integer=True),
    }),
    "translation": section({
        "batch_size": POS_INT,
        "dropout": number(0, 1, hi_open=True),
        "init": choice("xavier", "pytorch"),
        "adam": section({"betas": list_of(number(0, 1, hi_open=True), min_len=2), "eps": number(0, lo_open=True)}),
        "eval_batch_size": POS_INT,
        "beam": POS_INT,
        "length_penalty": number(0),
        "max_extra_tokens": POS_INT,
        "bleu_temperatures": list_of(number(0, lo_open=True), min_len=1, unique=True),
        "token_temperatures": section({"min": number(0, lo_open=True), "max": number(0, lo_open=True),
                                       "steps": number(2, integer=True)}),
    }),
    "train": section({
        "device": choice("auto", "cpu", "cuda"),
        "precision": choice("auto", "fp32", "bf16"),
        "channels_last": auto_bool,
        "compile": boolean,
        "stack": auto_bool,
        "stack_max": POS_INT,
        "log_every": POS_INT,
        "checkpoint_every": POS_INT,
        "eval_batch_size": POS_INT,
    }),
})


def _cross_checks(p: dict) -> None:
    if p["profile"] not in p["profiles"]:
        raise ParamError("profile", p["profile"], "one of the profiles defined: " + ", ".join(p["profiles"]))
    if p["distill"]["dataset"] not in p["profiles"][p["profile"]]["datasets"]:
        active = p["profiles"][p["profile"]]["datasets"]
        raise ParamError("distill.dataset", p["distill"]["dataset"],
                         f"a dataset of profile {p['profile']!r}: " + ", ".join(active))
    n_layers = len(p["fcn"]["hidden"]) + 1
    if len(p["fcn"]["lr"]) != n_layers:
        raise ParamError("fcn.lr", p["fcn"]["lr"],
                         f"one learning rate per linear layer ({n_layers} for hidden={p['fcn']['hidden']})")


def _check_classifiers(p: dict) -> None:
    for name, prof in p["profiles"].items():
        for arch, datasets in prof["classifiers"].items():
            for ds in datasets:
                if ds not in prof["datasets"]:
                    raise ParamError(f"profiles.{name}.classifiers.{arch}", datasets,
                                     f"datasets listed in profiles.{name}.datasets ({', '.join(prof['datasets'])})")
        for arch, s in prof["schedules"].items():
            key = f"profiles.{name}.schedules.{arch}"
            if any(m >= s["length"] for m in s["milestones"]):
                raise ParamError(f"{key}.milestones", s["milestones"], f"steps below length ({s['length']})")
            if s["snapshot_every"] and s["unit"] != "steps":
                raise ParamError(f"{key}.snapshot_every", s["snapshot_every"], "null unless unit is steps")


def _check_val_size(p: dict) -> None:
    """The validation split must fit the split it is drawn from and leave most of the training data:
    checked against the official sizes before any stage deletes or writes anything."""
    d = p["data"]
    for name in sorted({ds for prof in p["profiles"].values() for ds in prof["datasets"]}):
        spec = REGISTRY[name]
        if not spec.num_classes:
            continue  # text: the tokenize stage keeps the official splits
        size = d["val_size_by_dataset"].get(name, d["val_size"])
        key = f"data.val_size_by_dataset.{name}" if name in d["val_size_by_dataset"] else "data.val_size"
        n_train, n_test = spec.sizes
        if name in CIFAR and d["cifar_report"] == "heldout":  # Müller's protocol: val from the official test split
            if size >= n_test:
                raise ParamError(key, size, f"below {n_test}: {name}'s validation images come from its official "
                                            f"test split of {n_test} (data.cifar_report: heldout)")
        elif size > n_train // 2:
            raise ParamError(key, size, f"at most {n_train // 2}: it is held out of {name}'s {n_train} official "
                                        f"training examples and must leave at least half of them for training")


def _check_subset(p: dict) -> None:
    """``max_train_examples`` keeps a prefix of the training split; image-folder datasets are stored
    in class order (file names), so a prefix would hold only the first classes."""
    for name, prof in p["profiles"].items():
        ordered = [d for d in prof["datasets"] if REGISTRY[d].fmt == "image_folder_tar"]
        if prof["max_train_examples"] and ordered:
            raise ParamError(f"profiles.{name}.max_train_examples", prof["max_train_examples"],
                             f"null while the profile prepares {', '.join(ordered)}: its training split is "
                             "stored in class order, so a prefix would hold only the first classes")


def _check_figure8(p: dict) -> None:
    """Figure 8's dataset must be one the profile downloads."""
    for name, prof in p["profiles"].items():
        ds = prof["figure8_dataset"]
        if ds is not None and ds not in prof["datasets"]:
            raise ParamError(f"profiles.{name}.figure8_dataset", ds,
                             f"null or a dataset of profiles.{name}.datasets ({', '.join(prof['datasets'])})")


def _check_mutual_information(p: dict) -> None:
    """The MI stage reads snapshots of runs the active profile trains."""
    m, prof, name = p["mutual_information"], p["profiles"][p["profile"]], p["profile"]
    model = prof["mi_model"]
    ds = prof["mi_dataset"]
    if ds is None:  # this profile runs no Figure 6
        return
    if ds not in prof["classifiers"][model]:
        raise ParamError(f"profiles.{name}.mi_dataset", ds,
                         f"a dataset profile {name!r} trains {model} (mi_model) on: "
                         + (", ".join(prof["classifiers"][model]) or "none"))
    if not prof["schedules"][model]["snapshot_every"]:
        raise ParamError(f"profiles.{name}.schedules.{model}.snapshot_every", None,
                         "a number of steps: the mutual-information stage needs snapshots")
    classes = REGISTRY[ds].classes
    if len(m["classes"]) != 2 or any(c not in classes for c in m["classes"]):
        raise ParamError("mutual_information.classes", m["classes"], f"two class names of {ds}: " + ", ".join(classes))


def _check_translation(p: dict) -> None:
    """Every profile translates: Multi30k must be downloaded, and the model's sizes must fit together."""
    for name, prof in p["profiles"].items():
        if "multi30k" not in prof["datasets"]:
            raise ParamError(f"profiles.{name}.datasets", prof["datasets"], "a list that includes multi30k "
                             "(the translation stages of Figures 4 and 5)")
        m = prof["translation"]["model"]
        if m["d_model"] % m["heads"] or m["d_model"] % 2:
            raise ParamError(f"profiles.{name}.translation.model.d_model", m["d_model"],
                             f"an even multiple of heads ({m['heads']})")
    if len(p["translation"]["adam"]["betas"]) != 2:
        raise ParamError("translation.adam.betas", p["translation"]["adam"]["betas"], "two numbers in [0, 1)")
    if 1.0 not in p["translation"]["bleu_temperatures"]:
        raise ParamError("translation.bleu_temperatures", p["translation"]["bleu_temperatures"],
                         "a list that includes 1.0")
    g = p["translation"]["token_temperatures"]
    if g["max"] <= g["min"]:
        raise ParamError("translation.token_temperatures.max", g["max"], f"a value above min ({g['min']})")


def _check_grid(p: dict) -> None:
    c = p["calibrate"]
    if c["t_grid_max"] <= c["t_grid_min"]:
        raise ParamError("calibrate.t_grid_max", c["t_grid_max"],
                         f"a value above calibrate.t_grid_min ({c['t_grid_min']})")


def _check_projection_classes(p: dict) -> None:
    for ds, names in p["project"]["classes"].items():
        key = f"project.classes.{ds}"
        if ds not in REGISTRY or not REGISTRY[ds].classes:
            raise ParamError(key, names, "a classification dataset of the registry: "
                             + ", ".join(k for k, v in REGISTRY.items() if v.classes))
        if len(names) != 3:
            raise ParamError(key, names, "exactly three class names")
        for n in names:
            if n not in REGISTRY[ds].classes:
                raise ParamError(key, names, f"class names of {ds}: " + ", ".join(REGISTRY[ds].classes))


def _check_distill(p: dict) -> None:
    d = p["distill"]
    if len(d["table4"]["student_lr"]) != len(d["student_hidden"]) + 1:
        raise ParamError("distill.table4.student_lr", d["table4"]["student_lr"],
                         f"one learning rate per linear layer of the student ({len(d['student_hidden']) + 1})")
    for name, prof in p["profiles"].items():
        if 0.0 not in prof["distill_alphas"]:
            raise ParamError(f"profiles.{name}.distill_alphas", prof["distill_alphas"],
                             "a list that includes 0 (the hard-label teacher of curve M3)")


def _check_every(p: dict) -> None:
    t = p["train"]
    if t["checkpoint_every"] % t["log_every"]:
        # a resumed run must restart on a log boundary to reproduce the curve exactly
        raise ParamError("train.checkpoint_every", t["checkpoint_every"],
                         f"a multiple of train.log_every ({t['log_every']})")


def validate(params: dict) -> dict:
    """Validate raw params and return a copy with the active profile resolved."""
    SCHEMA("", params)
    _cross_checks(params)
    _check_every(params)
    _check_grid(params)
    _check_translation(params)
    _check_classifiers(params)
    _check_mutual_information(params)
    _check_figure8(params)
    _check_subset(params)
    _check_val_size(params)
    _check_projection_classes(params)
    _check_distill(params)
    out = copy.deepcopy(params)
    out["budget"] = copy.deepcopy(params["profiles"][params["profile"]])
    return out


class ParamsFileError(ValueError):
    """params.yaml is missing or is not YAML."""


def load_params(path: str | Path = "params.yaml") -> dict:
    """Validated params with the active profile under ``budget``; also checks that the device asked for exists."""
    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except OSError as e:
        raise ParamsFileError(f"cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise ParamsFileError(f"{path} is not valid YAML{at}: {getattr(e, 'problem', None) or e}") from None
    p = validate(raw if raw is not None else {})
    if p["train"]["device"] == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise ParamError("train.device", "cuda", "auto or cpu: no CUDA device is visible on this machine")
    return p


def alphas_to_train(p: dict, arch: str = "fcn") -> list[float]:
    """{0} ∪ sweep ∪ {alpha}, sorted, for the profile's ``sweep_models``; {0, alpha} for the others."""
    if arch not in p["budget"]["sweep_models"]:
        return sorted({0.0, float(p["alpha"])})
    return sorted({0.0, float(p["alpha"]), *map(float, p["sweep"])})


def classifiers(p: dict) -> list[tuple[str, str]]:
    """(model, dataset) of every Table 2/3 row of the active profile, in params order."""
    return [(arch, ds) for arch, datasets in p["budget"]["classifiers"].items() for ds in datasets]


if __name__ == "__main__":  # `python -m pipeline.config`: check params.yaml without running anything
    from .stage import run

    def _check() -> int:
        p = load_params()
        print(f"params.yaml is valid; profile {p['profile']!r} (profiles: {', '.join(p['profiles'])})")
        return 0
    run(_check)
