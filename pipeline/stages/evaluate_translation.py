"""DVC stage `evaluate_translation`: BLEU, NLL and ECE against temperature (Figs. 4, 5; Table 3's Transformer row).

Usage: python -m pipeline.stages.evaluate_translation
For every Transformer the train_translation stage left (every α and seed):
teacher-forced token accuracy / NLL / ECE on the test split with PAD
excluded (and at T = 1 on valid, the replication's split), T fitted by NLL on the validation split, beam-search BLEU
(sacrebleu, uncased and cased, signature recorded) at every T of
translation.bleu_temperatures and at the fitted T, greedy BLEU (T-invariant), and token
NLL and ECE on the finer grid translation.token_temperatures.
Writes metrics/translation.json (mean ± std over seeds), the test
translations at T = 1 (models/translations/), plots/translation/{temperature,
bleu,reliability}.json and the figures plots/figures/translation_{temperature,reliability}.png.
"""
from __future__ import annotations

import statistics

from ..config import alphas_to_train, load_params
from ..formulas import reliability as cal
from ..formulas.spread import mean_std
from ..io import load_tensors, prune, read_json, write_json, write_text
from ..layout import (
    FIGURES,
    TOKENIZED,
    TOKENIZERS,
    TRANSLATION_METRICS,
    TRANSLATION_PLOTS,
    TRANSLATIONS,
    alpha_key,
    translation_run_dir,
)
from ..reporting.figures import reliability_figure, temperature_figure
from ..stage import run
from ..text import tokenizer as tk
from ..text.batches import to_device
from ..text.evaluate import evaluate_run
from ..training.builders import resolve_device
from ..training.restore import load_model

REPORTED_STD = ("test_ece", "test_ece_ts", "temperature", "bleu_beam", "bleu_greedy", "test_nll")


def summarise(runs: list[dict]) -> dict:
    out = {}
    for k, v in runs[0].items():
        if isinstance(v, (str, int)):  # signatures, token and sentence counts: the same for every seed
            out[k] = v
            continue
        out[k], std = mean_std([r[k] for r in runs], 5)
        if k in REPORTED_STD and len(runs) > 1:
            out[k + "_std"] = std
    return out | {"n_seeds": len(runs)}


def mean_curve(curves: list[list[dict]], label: str, keys: tuple[str, ...]) -> list[dict]:
    """Figure 5 rows at the temperatures every run has (each run's fitted T is only in its own curve),
    mean over seeds."""
    grid = sorted(set.intersection(*({r["temperature"] for r in c if not r["fitted"]} for c in curves)))
    rows = []
    for t in grid:
        pts = [next(r for r in c if r["temperature"] == t) for c in curves]
        rows.append({"curve": label, "temperature": t, **{k: round(statistics.fmean(p[k] for p in pts), 5)
                                                          for k in keys}})
    return rows


def main() -> int:
    p = load_params()
    t, n_bins = p["translation"], p["calibrate"]["n_bins"]
    device = resolve_device(p["execution"]["device"])
    data = {s: to_device(v, device) for s, v in load_tensors(TOKENIZED / "multi30k.pt").items()}
    references = read_json(TOKENIZED / "multi30k.json")["references"]  # {val, test}: raw target lines
    tok_de = tk.load(TOKENIZERS / "de.json", "de")
    prof = p["active"]["translation"]
    seeds, alphas = prof["seeds"], alphas_to_train(p, "transformer")
    metrics, token_rows, bleu_rows, reliability, written = {}, [], [], [], set()
    for a in alphas:
        runs, tokens, bleus = [], [], []
        for s in seeds:
            model, _ = load_model(translation_run_dir(a, s), device)
            r = evaluate_run(model, data, references, tok_de, t, prof["bleu_sentences"], n_bins,
                             prof["token_sentences"])
            runs.append(r["metrics"])
            tokens.append(r["tokens"])
            bleus.append(r["bleu"])
            for decoder in ("beam", "greedy"):
                name = f"{alpha_key(a)}_seed_{s}.{decoder}.de"
                write_text(TRANSLATIONS / name, "\n".join(r[decoder]) + "\n")
                written.add(name)
            if s == seeds[0] and a in (0.0, p["alpha"]):  # Figure 4: hard labels at T=1 and fitted T, LS at T=1
                z, y = r["test_logits"]
                label = "hard labels" if a == 0.0 else f"label smoothing α={a:g}"
                reliability += cal.reliability_rows(z, y, 1.0, f"{label}, T=1", n_bins)
                if a == 0.0:
                    tf = r["metrics"]["temperature"]
                    reliability += cal.reliability_rows(z, y, tf, f"hard labels, T={tf:.2f} (fitted on val)", n_bins)
            del r
            m = runs[-1]
            print(f"evaluate_translation: alpha={a:g} seed={s}: BLEU {m['bleu_beam']:.2f} (beam, uncased), "
                  f"{m['bleu_greedy']:.2f} (greedy); test ECE {m['test_ece']:.4f}, T = {m['temperature']:.3f}; "
                  f"valid: BLEU {m['val_bleu_beam']:.2f} (beam), {m['val_bleu_greedy']:.2f} (greedy), "
                  f"ECE {m['val_ece']:.4f}")
        metrics[alpha_key(a)] = summarise(runs)
        token_rows += mean_curve(tokens, f"α={a:g}", ("ece", "nll"))
        bleu_rows += mean_curve(bleus, f"α={a:g}", ("bleu", "bleu_cased"))
    prune(TRANSLATIONS, written)
    write_json(TRANSLATION_PLOTS / "temperature.json", token_rows)
    write_json(TRANSLATION_PLOTS / "bleu.json", bleu_rows)
    write_json(TRANSLATION_PLOTS / "reliability.json", reliability)
    temperature_figure(token_rows, bleu_rows, {alpha_key(a): metrics[alpha_key(a)] for a in alphas},
                       FIGURES / "translation_temperature.png")
    reliability_figure({"Transformer on Multi30k (test tokens)": reliability}, FIGURES / "translation_reliability.png",
                       f"Test tokens of seed {seeds[0]} (of {len(seeds)} seed(s)), profile {p['profile']}")
    write_json(TRANSLATION_METRICS, metrics)
    return 0


if __name__ == "__main__":
    run(main)
