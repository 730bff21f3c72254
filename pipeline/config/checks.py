"""Cross-field checks of params: what one key allows depends on another (run after the schema)."""
from __future__ import annotations

from ..data.registry import CIFAR, REGISTRY
from .schema import ParamError, choice


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


def convnets_used(p: dict, prof: dict) -> set[str]:
    """The convnets a profile trains: as classifiers, in the sweeps, as Figure 8's teacher and student, for
    Figure 6. Each needs a schedule in the profile; the others may be left out of it."""
    used = {m for m, datasets in prof["classifiers"].items() if m != "fcn" and datasets}
    used |= {m for m in prof["sweep_models"] if m in p["convnets"]}
    if prof["figure8_dataset"] is not None:
        used |= {prof["figure8_teacher"], p["distill"]["figure8"]["student"]}
    if prof["mi_dataset"] is not None:
        used.add(prof["mi_model"])
    return used


def fill_classifiers(p: dict) -> None:
    """A convnet a profile does not list under ``classifiers`` trains no classifier there: [] (in place)."""
    for prof in p["profiles"].values():
        prof["classifiers"] |= {m: [] for m in sorted(p["convnets"]) if m not in prof["classifiers"]}


def _check_model_names(p: dict) -> None:
    """Models are named by their files: fcn, the transformer (in sweeps) or a convnet of the ``convnets``
    section. A profile lists the convnets it trains (``classifiers``, with datasets) and gives a schedule to each
    convnet it uses (convnets_used); adding a convnet touches no profile that does not train it."""
    conv = sorted(p["convnets"])
    for name, prof in p["profiles"].items():
        at = f"profiles.{name}"
        for m in prof["classifiers"]:
            choice("fcn", *conv)(f"{at}.classifiers.{m}", m)
        for m in prof["schedules"]:
            choice(*conv)(f"{at}.schedules.{m}", m)
        for i, m in enumerate(prof["sweep_models"]):
            choice("fcn", *conv, "transformer")(f"{at}.sweep_models[{i}]", m)
        for k in ("figure8_teacher", "mi_model"):
            choice(*conv)(f"{at}.{k}", prof[k])
        choice(*conv)("distill.figure8.student", p["distill"]["figure8"]["student"])
        missing = sorted(convnets_used(p, prof) - set(prof["schedules"]))
        if missing:
            raise ParamError(f"{at}.schedules", sorted(prof["schedules"]),
                             f"a schedule for each convnet the profile trains (missing: {', '.join(missing)})")


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
    t = p["execution"]
    if t["checkpoint_every"] % t["log_every"]:
        # a resumed run must restart on a log boundary to reproduce the curve exactly
        raise ParamError("execution.checkpoint_every", t["checkpoint_every"],
                         f"a multiple of execution.log_every ({t['log_every']})")


def check_all(p: dict) -> None:
    """Every cross-field check, in order; the first problem raises ParamError."""
    for check in (_cross_checks, _check_model_names, _check_every, _check_grid, _check_translation, _check_classifiers,
                  _check_mutual_information, _check_figure8, _check_val_size,
                  _check_projection_classes, _check_distill):
        check(p)
