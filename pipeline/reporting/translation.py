"""The translation part of metrics/tables.md: Table 3's Transformer rows, BLEU, and Figure 5 in numbers."""
from __future__ import annotations

from ..layout import alpha_key
from .markdown import fmt, md_table
from .reference import TABLE3_ECE


def _n(v: float | None, nd: int = 3, std: float | None = None) -> str:
    return fmt(v, std, nd)


def translation_section(p: dict, tr: dict, alphas: list[float]) -> tuple[str, dict]:
    b = p["active"]["translation"]
    m, t = b["model"], p["translation"]
    first = tr[alpha_key(alphas[0])]
    sweep = sorted({a for a in alphas if a > 0} | {0.1})
    rows = []
    for source, (key, note) in {"muller": (("wmt14_en_de", "transformer"), "WMT14 EN-DE, transformer_base"),
                                "replication": (("multi30k", "transformer"), "Multi30k, PAD counted")}.items():
        r = TABLE3_ECE[source][key]
        rows.append([f"{source} ({note})", _n(r["ts"][0]), f"{r['ts'][1]:g}", _n(r["hard"])]
                    + [_n(r["ls"].get(a)) for a in sweep])
    hard = tr[alpha_key(0.0)]
    rows.append(["**ours** (Multi30k, PAD excluded)", _n(hard["test_ece_ts"], std=hard.get("test_ece_ts_std")),
                 f"{hard['temperature']:.2f}", _n(hard["test_ece"], std=hard.get("test_ece_std"))]
                + [_n(tr[alpha_key(a)]["test_ece"], std=tr[alpha_key(a)].get("test_ece_std"))
                   if alpha_key(a) in tr else "—" for a in sweep])
    if "val_ece" in hard:  # the replication's numbers are on valid: ours on the same split beside them
        rows.append(["**ours, valid** (the replication's split, PAD excluded; T fitted there, so in-sample)",
                     _n(hard["val_ece_ts"]), f"{hard['temperature']:.2f}", _n(hard["val_ece"])]
                    + [_n(tr[alpha_key(a)]["val_ece"]) if alpha_key(a) in tr else "—" for a in sweep])
    t3 = md_table(["source", "α=0, T fitted: ECE", "T", "α=0, T=1: ECE"] + [f"α={a:g}, T=1: ECE" for a in sweep], rows)

    rows, flat = [], {}
    for a in alphas:
        r = tr[alpha_key(a)]
        rows.append([f"{a:g}", _n(r["bleu_beam"], 2, r.get("bleu_beam_std")), _n(r["bleu_beam_cased"], 2),
                     _n(r["bleu_greedy"], 2, r.get("bleu_greedy_std")), f"{r['temperature']:.2f}",
                     _n(r["bleu_beam_ts"], 2), _n(r["test_token_acc"], 2), _n(r["test_nll"], 3),
                     _n(r["test_nll_ts"], 3), _n(r["test_ece"], 3), _n(r["test_ece_ts"], 3)])
        k = f"translation/alpha={a:g}"
        flat |= {f"{k}/bleu_beam": r["bleu_beam"], f"{k}/bleu_greedy": r["bleu_greedy"], f"{k}/ece": r["test_ece"],
                 f"{k}/ece_ts": r["test_ece_ts"], f"{k}/temperature": r["temperature"], f"{k}/nll": r["test_nll"],
                 f"{k}/token_acc": r["test_token_acc"]}
        flat |= {f"{k}/valid/{m}": r[f"val_{m}"] for m in ("bleu_beam", "bleu_greedy", "ece", "nll", "token_acc")
                 if f"val_{m}" in r}
    bleu = md_table(["α", "BLEU beam (uncased)", "BLEU beam (cased)", "BLEU greedy (uncased)", "T (NLL fit, val)",
                   "BLEU beam at fitted T", "token acc. (%)", "NLL (T=1)", "NLL (fitted T)", "ECE (T=1)",
                   "ECE (fitted T)"], rows)
    val_rows = [[f"{a:g}", _n(r["val_token_acc"], 2), _n(r["val_nll"], 3), _n(r["val_ece"], 3),
                 _n(r["val_bleu_beam"], 2), _n(r["val_bleu_greedy"], 2)]
                for a in alphas if "val_ece" in (r := tr[alpha_key(a)])]
    valid = (md_table(["α", "token acc. (%)", "NLL (T=1)", "ECE (T=1)", "BLEU beam (uncased)",
                       "BLEU greedy (uncased)"], val_rows)
             + f"\n\nThe same models on Multi30k's valid split, where the replication computed every number "
             f"(BLEU on the first {first['val_bleu_sentences']} valid sentences)." if val_rows else "")
    about = (f"Ours: Multi30k task 1 EN→DE (train 29,000 / val 1,014 / test_2016_flickr 1,000), BPE "
             f"{b['vocab_size']} per language; Transformer {m['enc_layers']}+{m['dec_layers']} layers, d_model "
             f"{m['d_model']}, {m['heads']} heads, FFN {m['ffn']}; Adam lr {b['lr']:g}, batch {t['batch_size']}, "
             f"{b['epochs']} epochs, init {t['init']}, dropout {t['dropout']:g}; seeds {b['seeds']}. Token metrics "
             f"under teacher forcing on the {first['tokens']} real test tokens (PAD excluded); T fitted by NLL on "
             f"validation. BLEU on "
             f"{'all' if first['bleu_sentences'] == 1000 else 'the first ' + str(first['bleu_sentences'])} test "
             f"sentences, beam {t['beam']} (length penalty {t['length_penalty']:g}), detokenised, against the raw "
             f"references. Müller's row is WMT14 EN-DE with a far larger model: compare trends, not values.")
    sig = (f"sacrebleu signatures: `{first['signature']}` (uncased), `{first['signature_cased']}` (cased). "
           "Greedy output, and so greedy BLEU, cannot depend on T (argmax(z/T) = argmax(z)); beam-search BLEU "
           "can, through the hypotheses' scores. Figure 5: `plots/figures/translation_temperature.png`; "
           "Figure 4: `plots/figures/translation_reliability.png`; test translations: `models/translations/`.")
    return "\n\n".join(x for x in [about, t3, bleu, valid, sig] if x), flat
