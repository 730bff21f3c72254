"""Corpus BLEU with sacrebleu, on detokenised text against the raw references.

The hypotheses are decoded to plain text by the German tokeniser (which
restores the sentence exactly) and scored with sacrebleu's own tokenisation
(13a) against the untouched reference lines, so hypothesis and reference are
tokenised the same way (the replication compared differently tokenised
strings). Cased and uncased (Müller reports uncased) scores come with their
sacrebleu signatures, which say exactly how they were computed.
"""
from __future__ import annotations

from sacrebleu.metrics import BLEU


def corpus_bleu(hypotheses: list[str], references: list[str]) -> dict:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    out = {}
    for name, lowercase in (("cased", False), ("uncased", True)):
        metric = BLEU(lowercase=lowercase)
        score = metric.corpus_score(hypotheses, [references])
        out[name] = {"bleu": round(score.score, 4), "signature": str(metric.get_signature()),
                     "brevity_penalty": round(score.bp, 4), "precisions": [round(x, 3) for x in score.precisions]}
    return out
