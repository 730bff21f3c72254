"""Everything measured on one trained Transformer: token metrics and BLEU against the temperature.

- Token accuracy, NLL and ECE under teacher forcing on the test split, PAD
  excluded (pipeline/text/metrics.py), at every T of the grid and at the T
  fitted by NLL on the *validation* split (pipeline/formulas/reliability.py, the same
  fit as the classifiers').
- BLEU (sacrebleu, cased and uncased, with signatures) of beam-search
  translations of the test sources at every T, and of greedy translations at
  T = 1 only: greedy output does not depend on T (pipeline/text/decoding.py).
- The same metrics at T = 1 (and token metrics at the fitted T) on the
  validation split as ``val_*``: the replication reports every number on
  Multi30k's valid split, so its values are compared with these. The fitted T
  is in-sample there, so ``val_*_ts`` is optimistic by construction.
"""
from __future__ import annotations

import torch

from ..formulas import reliability as cal
from . import tokenizer as tk
from .batches import eval_batches
from .bleu import corpus_bleu
from .decoding import translate
from .metrics import teacher_forced_logits


def head(split: dict, n: int | None) -> dict:
    """The first n pairs of a split (all of them for None)."""
    if n is None:
        return split
    return {side: {"ids": v["ids"][:n], "len": v["len"][:n]} for side, v in split.items()}


def token_curve(logits: torch.Tensor, targets: torch.Tensor, temperatures: list[float], n_bins: int) -> list[dict]:
    """Test NLL and ECE of the real tokens at each temperature (accuracy does not depend on T)."""
    return [{"temperature": t, "nll": cal.nll(logits, targets, t),
             "ece": cal.ece_from_logits(logits, targets, t, n_bins)} for t in temperatures]


def decode_text(model, split: dict, tok_de, t: dict, beam: int, temperature: float) -> list[str]:
    ids = translate(model, eval_batches(split, t["eval_batch_size"]), t["max_extra_tokens"], beam, temperature,
                    t["length_penalty"])
    return tk.decode(tok_de, ids)


def token_grid(t: dict) -> list[float]:
    """The temperatures of the token ECE/NLL curves: ``token_temperatures`` ∪ ``bleu_temperatures``."""
    g = t["token_temperatures"]
    fine = torch.linspace(g["min"], g["max"], g["steps"], dtype=torch.float64).tolist()
    return sorted({round(x, 6) for x in fine} | set(t["bleu_temperatures"]))


def split_bleu(model, split: dict, references: list[str], tok_de, t: dict, n: int | None) -> dict:
    """{beam, greedy: corpus_bleu, sentences} at T = 1 on the first ``n`` pairs of ``split``."""
    part = head(split, n)
    refs = references[: len(part["src"]["len"])]
    return {"beam": corpus_bleu(decode_text(model, part, tok_de, t, t["beam"], 1.0), refs),
            "greedy": corpus_bleu(decode_text(model, part, tok_de, t, 1, 1.0), refs), "sentences": len(refs)}


def evaluate_run(model, data: dict, references: dict[str, list[str]], tok_de, t: dict, bleu_sentences: int | None,
                 n_bins: int, token_sentences: int | None = None) -> dict:
    """All numbers of one model; ``t`` is params ``translation``, ``references`` the raw target lines of "val"
    and "test"; token metrics and the temperature fit on the first ``token_sentences`` validation and test
    pairs (None: all). Returns the metrics, the token curve (NLL, ECE on the fine grid), the BLEU curve (beam
    search at ``bleu_temperatures``), the test translations at T = 1 (beam and greedy) and the test logits."""
    zv, yv = teacher_forced_logits(model, head(data["val"], token_sentences), t["eval_batch_size"])
    zt, yt = teacher_forced_logits(model, head(data["test"], token_sentences), t["eval_batch_size"])
    fit = cal.fit_temperature(zv, yv)
    val = {"val_tokens": int(len(yv)), "val_token_acc": 100.0 * (zv.argmax(-1) == yv).double().mean().item(),
           "val_ece": cal.ece_from_logits(zv, yv, 1.0, n_bins),
           "val_ece_ts": cal.ece_from_logits(zv, yv, fit.temperature, n_bins)}
    del zv, yv
    vb = split_bleu(model, data["val"], references["val"], tok_de, t, bleu_sentences)
    val |= {"val_bleu_beam": vb["beam"]["uncased"]["bleu"], "val_bleu_greedy": vb["greedy"]["uncased"]["bleu"],
            "val_bleu_sentences": vb["sentences"]}
    tokens = {r["temperature"]: r for r in token_curve(zt, yt, sorted(set(token_grid(t)) | {fit.temperature}),
                                                       n_bins)}
    test = head(data["test"], bleu_sentences)
    refs = references["test"][: len(test["src"]["len"])]
    texts, bleu = {}, {}
    for temp in sorted(set(t["bleu_temperatures"]) | {fit.temperature}):
        texts[temp] = decode_text(model, test, tok_de, t, t["beam"], temp)
        bleu[temp] = corpus_bleu(texts[temp], refs)
    greedy_text = decode_text(model, test, tok_de, t, 1, 1.0)
    greedy = corpus_bleu(greedy_text, refs)
    metrics = {
        "tokens": int(len(yt)), "test_token_acc": 100.0 * (zt.argmax(-1) == yt).double().mean().item(),
        "test_nll": tokens[1.0]["nll"], "test_ece": tokens[1.0]["ece"],
        "temperature": fit.temperature, "val_nll": fit.nll_before, "val_nll_ts": fit.nll_after,
        "test_nll_ts": tokens[fit.temperature]["nll"], "test_ece_ts": tokens[fit.temperature]["ece"],
        "bleu_sentences": len(refs),
        "bleu_beam": bleu[1.0]["uncased"]["bleu"], "bleu_beam_cased": bleu[1.0]["cased"]["bleu"],
        "bleu_beam_ts": bleu[fit.temperature]["uncased"]["bleu"],
        "bleu_greedy": greedy["uncased"]["bleu"], "bleu_greedy_cased": greedy["cased"]["bleu"],
        "signature": bleu[1.0]["uncased"]["signature"], "signature_cased": bleu[1.0]["cased"]["signature"],
    } | val
    token_rows = [{"temperature": k, "nll": r["nll"], "ece": r["ece"], "fitted": k == fit.temperature}
                  for k, r in sorted(tokens.items())]
    bleu_rows = [{"temperature": k, "bleu": r["uncased"]["bleu"], "bleu_cased": r["cased"]["bleu"],
                  "fitted": k == fit.temperature} for k, r in sorted(bleu.items())]
    return {"metrics": metrics, "tokens": token_rows, "bleu": bleu_rows, "beam": texts[1.0],
            "greedy": greedy_text, "test_logits": (zt, yt)}
