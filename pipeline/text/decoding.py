"""Greedy and beam-search decoding, with the temperature applied to the logits.

Beam search ranks hypotheses by the sum of log softmax(z / T) over their
tokens, divided by a length penalty ((5 + |y|) / 6)^lp (GNMT; lp = 0: none).
T changes those scores, so BLEU can depend on T under beam search. Greedy
decoding takes argmax(z / T) = argmax(z) at every step: its output, and so
its BLEU, cannot depend on T.

Neither ever emits PAD or BOS (their log-probabilities are set to −∞ after
the softmax, so the scores stay the model's own). Both run batched over
sentences (and beams), with no per-sentence Python loop, and feed one
token per step through the decoder (``model.step``: the layers' inputs are
cached, reordered with the beams).
"""
from __future__ import annotations

import torch

from .tokenizer import BOS, EOS, PAD


def _strip(ids: list[int]) -> list[int]:
    out = []
    for i in ids:
        if i in (EOS, PAD):
            break
        out.append(i)
    return out


@torch.no_grad()
def greedy(model, src: torch.Tensor, max_len: int, temperature: float = 1.0) -> list[list[int]]:
    """Token ids (without BOS/EOS) for each source sentence of the batch."""
    model.eval()
    memory, pad = model.encode(src)
    ys = torch.full((len(src), 1), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(len(src), dtype=torch.bool, device=src.device)
    cache = None
    for _ in range(max_len):
        z, cache = model.step(memory, pad, cache, ys[:, -1])
        z = _never_special(z / temperature)
        nxt = torch.where(done, torch.full_like(done, PAD, dtype=torch.long), z.argmax(-1))
        ys = torch.cat([ys, nxt[:, None]], 1)
        done |= nxt == EOS
        if done.all():
            break
    return [_strip(row) for row in ys[:, 1:].tolist()]


def _never_special(z: torch.Tensor) -> torch.Tensor:
    z[:, PAD] = z[:, BOS] = float("-inf")
    return z


def _penalty(length: float, lp: float) -> float:
    return ((5.0 + length) / 6.0) ** lp


@torch.no_grad()
def beam_search(model, src: torch.Tensor, max_len: int, beam: int = 4, temperature: float = 1.0,
                length_penalty: float = 0.6) -> list[list[int]]:
    """The best finished hypothesis (ids without BOS/EOS) for each sentence of the batch.

    Each step scores the ``beam × V`` extensions of every sentence's beams and
    takes the top ``2·beam``: those among the first ``beam`` that end in EOS are
    finished (length-normalised, the best kept), and the first ``beam`` that do
    not end become the next beams (there are always enough: each beam has one
    EOS extension). A sentence is done when its best finished score beats what
    any live beam could still reach, ``score / penalty(max_len)``.
    """
    model.eval()
    b, dev = len(src), src.device
    memory, pad = model.encode(src)
    memory, pad = memory.repeat_interleave(beam, 0), pad.repeat_interleave(beam, 0)
    ys = torch.full((b * beam, 1), BOS, dtype=torch.long, device=dev)
    score = torch.full((b, beam), float("-inf"), dtype=torch.float64, device=dev)
    score[:, 0] = 0.0  # one live beam at the start: the others would duplicate it
    best = torch.full((b,), float("-inf"), dtype=torch.float64, device=dev)
    best_hyp = torch.full((b, max_len), PAD, dtype=torch.long, device=dev)
    first_rows = torch.arange(b, device=dev) * beam
    cache = None
    for step in range(max_len):
        z, cache = model.step(memory, pad, cache, ys[:, -1])
        logp = _never_special(torch.log_softmax(z.double() / temperature, -1))
        v = logp.shape[-1]
        top, idx = (score[:, :, None] + logp.view(b, beam, v)).view(b, beam * v).topk(2 * beam, dim=1)
        from_beam, tok = idx // v, idx % v
        ends = tok == EOS
        # finished hypotheses: EOS among the first `beam` candidates; length = step + 1 tokens with EOS
        rank = torch.arange(2 * beam, device=dev)
        norm = torch.where(ends & (rank < beam) & torch.isfinite(top), top / _penalty(step + 1, length_penalty),
                           torch.tensor(float("-inf"), dtype=torch.float64, device=dev))
        cand, j = norm.max(1)
        better = cand > best
        if better.any():
            prefix = ys[first_rows + from_beam.gather(1, j[:, None]).squeeze(1), 1:]   # [b, step]
            best_hyp[better] = PAD
            best_hyp[better, :step] = prefix[better]
            best = torch.where(better, cand, best)
        # next beams: the first `beam` candidates that do not end, in score order
        keep = ~ends & (torch.cumsum((~ends).long(), 1) <= beam)
        pos = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :beam]
        score = top.gather(1, pos)
        rows = (first_rows[:, None] + from_beam.gather(1, pos)).view(-1)
        ys = torch.cat([ys[rows], tok.gather(1, pos).view(-1, 1)], 1)
        cache = [c[rows] for c in cache]
        if bool((best >= score.max(1).values / _penalty(max_len, length_penalty)).all()):
            break
    out = []
    for i in range(b):
        if best[i] == float("-inf"):  # nothing ended within max_len: the best live hypothesis
            out.append(ys[i * beam + int(score[i].argmax()), 1:].tolist())
        else:
            out.append(_strip(best_hyp[i].tolist()))
    return out


def translate(model, batches, max_extra: int, beam: int, temperature: float = 1.0,
              length_penalty: float = 0.6) -> list[list[int]]:
    """Decode every (source, _) batch: greedy if ``beam`` is 1, else beam search.

    At most (longest source in the batch + ``max_extra``) tokens are generated.
    """
    out = []
    for src, _ in batches:
        n = src.shape[1] + max_extra
        out += greedy(model, src, n, temperature) if beam == 1 else \
            beam_search(model, src, n, beam, temperature, length_penalty)
    return out
