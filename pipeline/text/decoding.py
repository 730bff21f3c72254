"""Greedy and beam-search decoding, with the temperature applied to the logits.

Beam search ranks hypotheses by the sum of log softmax(z / T) over their
tokens, divided by a length penalty ((5 + |y|) / 6)^lp (GNMT; lp = 0: none).
T changes those scores, so BLEU can depend on T under beam search. Greedy
decoding takes argmax(z / T) = argmax(z) at every step: its output, and so
its BLEU, cannot depend on T.
"""
from __future__ import annotations

import torch

from .tokenizer import BOS, EOS, PAD


@torch.no_grad()
def greedy(model, src: torch.Tensor, max_len: int, temperature: float = 1.0) -> list[list[int]]:
    """Token ids (without BOS/EOS) for each source sentence of the batch."""
    model.eval()
    memory, pad = model.encode(src)
    ys = torch.full((len(src), 1), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(len(src), dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        z = model.decode(memory, pad, ys)[:, -1] / temperature
        nxt = torch.where(done, torch.full_like(done, PAD, dtype=torch.long), z.argmax(-1))
        ys = torch.cat([ys, nxt[:, None]], 1)
        done |= nxt == EOS
        if done.all():
            break
    return [_strip(row) for row in ys[:, 1:].tolist()]


def _strip(ids: list[int]) -> list[int]:
    out = []
    for i in ids:
        if i in (EOS, PAD):
            break
        out.append(i)
    return out


def _penalty(length: torch.Tensor, lp: float) -> torch.Tensor:
    return ((5.0 + length) / 6.0) ** lp


@torch.no_grad()
def beam_search(model, src: torch.Tensor, max_len: int, beam: int = 4, temperature: float = 1.0,
                length_penalty: float = 0.6) -> list[list[int]]:
    """Beam search over each sentence of the batch; returns the best finished hypothesis per sentence."""
    model.eval()
    b = len(src)
    memory, pad = model.encode(src)
    memory, pad = memory.repeat_interleave(beam, 0), pad.repeat_interleave(beam, 0)
    ys = torch.full((b * beam, 1), BOS, dtype=torch.long, device=src.device)
    # only the first beam of each sentence is live at the start (the others would duplicate it)
    score = torch.full((b, beam), float("-inf"), device=src.device)
    score[:, 0] = 0.0
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(b)]
    for step in range(max_len):
        logp = torch.log_softmax(model.decode(memory, pad, ys)[:, -1].double() / temperature, -1)  # [b*beam, V]
        v = logp.shape[-1]
        cand = (score.double()[:, :, None] + logp.view(b, beam, v)).view(b, beam * v)
        top, idx = cand.topk(2 * beam, dim=1)          # room to replace hypotheses that end here
        new_rows, new_scores = [], []
        for i in range(b):
            rows, scores = [], []
            for s, j in zip(top[i].tolist(), idx[i].tolist()):
                if s == float("-inf"):
                    break
                src_beam, tok = divmod(j, v)
                hyp = ys[i * beam + src_beam, 1:].tolist()
                if tok == EOS:
                    length = torch.tensor(float(len(hyp) + 1))
                    finished[i].append((s / _penalty(length, length_penalty).item(), hyp))
                else:
                    rows.append(ys[i * beam + src_beam].tolist() + [tok])
                    scores.append(s)
                if len(rows) == beam:
                    break
            while len(rows) < beam:  # pad with dead beams
                rows.append(ys[i * beam].tolist() + [PAD])
                scores.append(float("-inf"))
            new_rows += rows
            new_scores.append(scores)
        ys = torch.tensor(new_rows, device=src.device)
        score = torch.tensor(new_scores, device=src.device)
        # stop when every sentence's best finished hypothesis beats any live one can still reach
        best_live = score.max(1).values / _penalty(torch.tensor(float(max_len)), length_penalty)
        if all(finished[i] and max(f[0] for f in finished[i]) >= best_live[i].item() for i in range(b)):
            break
    out = []
    for i in range(b):
        if not finished[i]:  # nothing ended within max_len: take the best live hypothesis
            j = int(score[i].argmax())
            finished[i].append((score[i, j].item(), ys[i * beam + j, 1:].tolist()))
        out.append(max(finished[i], key=lambda f: f[0])[1])
    return out
