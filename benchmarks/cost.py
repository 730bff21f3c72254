"""Training samples a profile costs, per model: what the benchmark's rates and FLOP counts multiply.

``training_samples(p, profile, stages)`` counts, from params alone (no data), the samples every
training run of the named stages processes: Tables 2/3 (`train`), Table 4 (`teacher`, `student`),
Figures 7/8 (`sweep_teachers`, `distill`) and the Transformers (`train_translation`). FCN
students (800-800) are converted to FCN-1200 samples by their FLOP ratio, so "fcn" is in units of
the FCN-1200 row. Figure 7/8 teachers that equal a Table 2 run are copied, not retrained; they are
counted anyway (an upper bound by at most two teachers per seed).
"""
from __future__ import annotations

import math

from pipeline.data.registry import get

FCN_BATCH = 512
MULTI30K_TRAIN_PAIRS = 29_000


def _fcn_params(hidden: list[int], d_in: int = 784, k: int = 10) -> int:
    dims = [d_in, *hidden, k]
    return sum(a * b for a, b in zip(dims, dims[1:]))


def _n_train(p: dict, dataset: str) -> int:
    """Training images after the validation split (data.val_size; CIFAR `heldout` trains on 40k)."""
    n = get(dataset).sizes[0]
    val = p["data"].get("val_size_by_dataset", {}).get(dataset, p["data"]["val_size"])
    if dataset.startswith("cifar") and p["data"]["cifar_report"] == "heldout":
        return n - 10_000
    cap = p["profiles"][p["profile"]]["max_train_examples"]
    return min(n - val, cap) if cap else n - val


def _alphas(p: dict, prof: dict, arch: str) -> int:
    return len({0.0, p["alpha"], *p["sweep"]}) if arch in prof["sweep_models"] else len({0.0, p["alpha"]})


def _convnet_run(p: dict, prof: dict, arch: str, dataset: str) -> float:
    s, bs = prof["schedules"][arch], p["convnets"][arch]["batch_size"]
    return s["length"] * bs if s["unit"] == "steps" else s["length"] * _n_train(p, dataset)


def training_samples(p: dict, stages: list[str] | None = None) -> dict[str, float]:
    """{model: samples} of the profile ``p['profile']`` for ``stages`` (None: all of them)."""
    prof, on = p["profiles"][p["profile"]], (lambda s: stages is None or s in stages)
    out = {"fcn": 0.0, "alexnet": 0.0, "resnet56": 0.0, "transformer": 0.0}
    fcn_epoch = {d: math.ceil(_n_train(p, d) / FCN_BATCH) * FCN_BATCH for d in ("mnist", "fashion_mnist", "emnist")}
    big = _fcn_params(p["fcn"]["hidden"])
    small = _fcn_params(p["distill"]["student_hidden"]) / big
    seeds, dseeds, epochs = len(prof["seeds"]), len(prof["distill_seeds"]), prof["fcn_epochs"]
    if on("train"):
        for arch, datasets in prof["classifiers"].items():
            for d in datasets:
                runs = _alphas(p, prof, arch) * seeds
                if arch == "fcn":
                    out["fcn"] += runs * epochs * fcn_epoch[d]
                elif arch in out:
                    out[arch] += runs * _convnet_run(p, prof, arch, d)
    d_run = epochs * fcn_epoch[p["distill"]["dataset"]]
    n_t4 = len(p["distill"]["table4"]["teachers"])
    if on("teacher"):
        out["fcn"] += n_t4 * dseeds * d_run
    if on("student"):
        out["fcn"] += n_t4 * (2 if p["distill"]["table4"]["compare_probabilities"] else 1) * dseeds * d_run * small
    k, n_temp = len(prof["distill_alphas"]), len(prof["distill_temperatures"])
    if on("sweep_teachers"):
        out["fcn"] += k * dseeds * d_run
        if prof["figure8_dataset"]:
            t = prof["figure8_teacher"]
            out[t] += k * dseeds * _convnet_run(p, prof, t, prof["figure8_dataset"])
    if on("distill"):
        out["fcn"] += (2 * k - 1 + n_temp) * dseeds * d_run * small
        if prof["figure8_dataset"]:
            s = p["distill"]["figure8"]["student"]
            out[s] += (2 * k - 1 + n_temp) * dseeds * _convnet_run(p, prof, s, prof["figure8_dataset"])
    if on("train_translation"):
        tr = prof["translation"]
        out["transformer"] += _alphas(p, prof, "transformer") * len(tr["seeds"]) * tr["epochs"] * MULTI30K_TRAIN_PAIRS
    return out
