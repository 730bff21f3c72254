"""The params schema, owned by the code: every key, its type and range (unknown keys are errors too)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from ..data.input_names import AUGMENTS, STANDARDIZE
from ..data.registry import FCN_DATASETS, REGISTRY

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
def _string(key, v):
    if not isinstance(v, str) or not v:
        raise ParamError(key, v, "a non-empty string")


def _string_or_null(key, v):
    if v is not None:
        _string(key, v)


def _auto_or(check: Check) -> Check:
    def c(key, v):
        if v != "auto":
            check(key, v)
    return c


def _sbatch_options(key, v):
    """Extra sbatch options, {option: value} (submitit's additional_parameters), e.g. {account: lab}."""
    if not isinstance(v, dict) or not all(isinstance(k, str) and isinstance(x, (str, int, float)) and
                                          not isinstance(x, bool) for k, x in v.items()):
        raise ParamError(key, v, "a mapping of sbatch option names to strings or numbers, e.g. {account: mylab}")


POS_INT = number(1, integer=True)
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
IMAGE_DATASETS = ("cifar10", "cifar100", "cifar10_jpeg", "cub200", "tiny_imagenet")


def nullable(check: Check) -> Check:
    return lambda key, v: None if v is None else check(key, v)


def free_mapping(key, v):
    if not isinstance(v, dict):
        raise ParamError(key, v, "a mapping")


def input_section(key, v):
    """A convnet's ``input``: the augmentation's own keys must be there (pipeline/data/input_names.py)."""
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


def convnet_settings(key, v):
    """Each convnet's settings, under the name of its model file (pipeline/models/<name>.py): these names are the
    convnets that profiles may train and name (checks._check_model_names)."""
    mapping_of(CONVNET)(key, v)
    for k in v:
        if k.startswith("_") or not (MODELS_DIR / f"{k}.py").is_file():
            raise ParamError(f"{key}.{k}", v[k], f"the name of a model file in {MODELS_DIR}")


def classifier_lists(key, v):
    """{model: datasets}: fcn on FCN datasets, each convnet on image datasets."""
    if not isinstance(v, dict) or "fcn" not in v:
        raise ParamError(key, v, "a mapping of fcn, and of each convnet the profile trains, to its datasets")
    for k, x in v.items():
        list_of(choice(*(FCN_DATASETS if k == "fcn" else IMAGE_DATASETS)), unique=True)(f"{key}.{k}", x)


SCHEMA = section({
    "profile": lambda k, v: None,  # checked against `profiles` in _cross_checks
    "alpha": ALPHA,
    "sweep": list_of(ALPHA, min_len=1, unique=True),
    "profiles": mapping_of(section({
        "datasets": list_of(choice(*REGISTRY), min_len=1, unique=True),
        "classifiers": classifier_lists,  # fcn and the convnets it trains (others: []): checks.fill_classifiers
        "sweep_models": list_of(_string, unique=True),
        "schedules": mapping_of(SCHEDULE, min_len=0),
        "seeds": list_of(number(0, integer=True), min_len=1, unique=True),
        "distill_seeds": list_of(number(0, integer=True), min_len=1, unique=True),
        "fcn_epochs": POS_INT,
        "max_train_examples": number(1, integer=True, nullable=True),
        "distill_alphas": list_of(ALPHA, min_len=1, unique=True),
        "distill_temperatures": list_of(number(0, lo_open=True), min_len=1, unique=True),
        "figure8_dataset": nullable(choice(*IMAGE_DATASETS)),
        "figure8_teacher": _string,
        "mi_dataset": nullable(choice(*IMAGE_DATASETS)),
        "mi_model": _string,
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
    "convnets": convnet_settings,
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
        "shift_draw": choice("uniform", "rounded"),
        "lr_decay": choice("per_step", "per_epoch"),
        "bias_init_std": number(0),
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
            "squared_error": choice("half_sum", "mean"),
            "compare_probabilities": boolean,
        }),
        "figure7": section({"beta": number(0, 1), "hard_teacher_dropout": number(0, 1, hi_open=True)}),
        "figure8": section({"student": _string, "beta": number(0, 1)}),
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
    "execution": section({
        "device": choice("auto", "cpu", "cuda"),
        "precision": choice("auto", "fp32", "bf16"),
        "channels_last": auto_bool,
        "compile": boolean,
        "stack": auto_bool,
        "stack_max": POS_INT,
        "log_every": POS_INT,
        "checkpoint_every": POS_INT,
        "eval_batch_size": POS_INT,
        "backend": choice("inline", "local", "slurm"),
        "jobs_dir": _string,
        "local": section({"workers": _auto_or(POS_INT), "time_min": POS_INT}),
        "slurm": section({"partition": _string_or_null, "gpus_per_job": number(0, integer=True),
                          "cpus_per_job": POS_INT, "mem_gb": number(0, lo_open=True), "time_min": POS_INT,
                          "array_parallelism": POS_INT, "extra": _sbatch_options}),
    }),
})
