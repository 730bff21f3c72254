"""Translation evaluation: batches, exact beam search on a tiny model, BLEU against an independent
computation, detokenisation back to the raw references, and the temperature curves."""
from __future__ import annotations

import collections
import itertools
import math

import pytest
import torch

from pipeline.models import build_model
from pipeline.text import batches as B
from pipeline.text import corpus, decoding
from pipeline.text import tokenizer as T
from pipeline.text.bleu import corpus_bleu
from pipeline.text.evaluate import evaluate_run


def _split(n=23, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = [torch.randint(4, 13, (int(torch.randint(1, 8, (1,), generator=g)),), generator=g).tolist() for _ in range(n)]
    tgt = [torch.randint(4, 11, (int(torch.randint(1, 9, (1,), generator=g)),), generator=g).tolist() for _ in range(n)]
    return {"src": B.pack(src, bos=False), "tgt": B.pack(tgt, bos=True)}, src, tgt


def test_pack_adds_bos_and_eos_and_pads_with_pad():
    p = B.pack([[5, 6], [7]], bos=True)
    assert p["ids"].tolist() == [[T.BOS, 5, 6, T.EOS], [T.BOS, 7, T.EOS, T.PAD]] and p["len"].tolist() == [4, 3]
    assert B.pack([[5, 6], [7]], bos=False)["ids"].tolist() == [[5, 6, T.EOS], [7, T.EOS, T.PAD]]


def test_training_batches_cover_every_pair_once_per_epoch_cut_to_their_longest_sentence():
    split, src, tgt = _split()
    batches = B.TrainBatches(split, batch_size=4, seed=3, pool=2)
    assert batches.per_epoch == 6
    seen = []
    for step in range(6):
        idx = batches._plan(0)[step]
        (s, tin), tout = batches(step, None)
        assert s.shape[1] == max(len(src[i]) + 1 for i in idx) and tin.shape[1] == max(len(tgt[i]) + 1 for i in idx)
        for row, i in enumerate(idx.tolist()):
            assert s[row, :len(src[i]) + 1].tolist() == src[i] + [T.EOS]
            assert tin[row, :len(tgt[i]) + 1].tolist() == [T.BOS] + tgt[i]      # teacher forcing: shifted by one
            assert tout[row, :len(tgt[i]) + 1].tolist() == tgt[i] + [T.EOS]
        seen += idx.tolist()
    assert sorted(seen) == list(range(23))
    # the plan is a function of (seed, epoch): a resumed run draws the same batches
    again = B.TrainBatches(split, batch_size=4, seed=3, pool=2)
    assert [b.tolist() for b in again._plan(1)] == [b.tolist() for b in batches._plan(1)]
    assert [b.tolist() for b in batches._plan(1)] != [b.tolist() for b in batches._plan(0)]


def _tiny(vocab=6, seed=0):
    torch.manual_seed(seed)
    return build_model("transformer", (), vocab, {"src_vocab": 9, "d_model": 8, "heads": 2, "enc_layers": 1,
                                                  "dec_layers": 1, "ffn": 16, "dropout": 0.0, "init": "xavier"}).eval()


def _exhaustive(model, src, max_len, lp):
    """Best length-normalised hypothesis over *every* sequence of words 4.. that ends in EOS within max_len,
    or of length max_len without EOS (the brute-force answer beam search approximates)."""
    words = list(range(4, model.head.out_features))
    best, best_score = None, -math.inf
    for n in range(max_len + 1):
        for hyp in itertools.product(words, repeat=n):
            ended = n < max_len
            tgt = torch.tensor([[T.BOS, *hyp] + ([T.EOS] if ended else [])])
            with torch.no_grad():
                z = model((src, tgt[:, :-1])).double() if tgt.shape[1] > 1 else None
            logp = 0.0 if z is None else torch.log_softmax(z, -1)[0].gather(1, tgt[0, 1:, None]).sum().item()
            score = logp / ((5 + n + 1) / 6) ** lp if ended else -math.inf
            if score > best_score:
                best, best_score = list(hyp), score
    return best


@pytest.mark.parametrize("lp,temperature", [(0.0, 1.0), (0.6, 1.0), (1.0, 0.5)])
def test_wide_beam_search_finds_the_exhaustive_optimum(lp, temperature):
    # 2 words + EOS, at most 3 tokens: 15 hypotheses; a beam of 8 keeps every live prefix, so it is exact
    model = _tiny()
    with torch.no_grad():
        model.head.bias[4:] += torch.tensor([0.5, 0.0])   # make the search non-trivial for both words
    for seed in range(3):
        src = torch.randint(4, 9, (1, 4), generator=torch.Generator().manual_seed(seed))
        scaled = _tiny()
        scaled.load_state_dict(model.state_dict())
        with torch.no_grad():  # temperature T on the logits = the same model with head / T
            scaled.head.weight /= temperature
            scaled.head.bias /= temperature
        want = _exhaustive(scaled, src, 3, lp)
        assert decoding.beam_search(model, src, 3, beam=8, temperature=temperature, length_penalty=lp) == [want]


def test_batched_beam_search_gives_each_sentence_what_it_gets_alone():
    model = _tiny(vocab=12)
    src = torch.randint(4, 9, (5, 6), generator=torch.Generator().manual_seed(4))
    src[2, 3:] = T.PAD
    together = decoding.beam_search(model, src, 7, beam=3)
    alone = [decoding.beam_search(model, src[i:i + 1, :(3 if i == 2 else 6)], 7, beam=3)[0] for i in range(5)]
    assert together == alone


def _ngrams(words, n):
    return collections.Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def _bleu_by_hand(hyps, refs):
    """Papineni et al.'s corpus BLEU: clipped n-gram precisions (n ≤ 4), geometric mean, brevity penalty."""
    match, total = [0] * 4, [0] * 4
    hl = rl = 0
    for h, r in zip(hyps, refs):
        h, r = h.split(), r.split()
        hl, rl = hl + len(h), rl + len(r)
        for n in range(1, 5):
            hn, rn = _ngrams(h, n), _ngrams(r, n)
            match[n - 1] += sum(min(c, rn[g]) for g, c in hn.items())
            total[n - 1] += max(len(h) - n + 1, 0)
    bp = 1.0 if hl > rl else math.exp(1 - rl / hl)
    return 100 * bp * math.exp(sum(math.log(m / t) for m, t in zip(match, total)) / 4)


def test_bleu_matches_an_independent_computation_and_reports_signatures():
    refs = ["ein mann in einem blauen hemd steht auf einer leiter und putzt ein fenster",
            "zwei hunde spielen im schnee neben einem roten haus am see"]
    hyps = ["ein mann in einem blauen hemd steht auf der leiter und putzt fenster",
            "zwei hunde spielen im tiefen schnee neben dem roten haus"]
    out = corpus_bleu(hyps, refs)
    assert out["uncased"]["bleu"] == pytest.approx(_bleu_by_hand(hyps, refs), abs=1e-3)
    assert corpus_bleu(refs, refs)["cased"]["bleu"] == pytest.approx(100.0)
    assert "case:lc" in out["uncased"]["signature"] and "tok:13a" in out["uncased"]["signature"]
    assert "case:mixed" in out["cased"]["signature"]
    upper = corpus_bleu([h.capitalize() for h in hyps], refs)
    assert upper["uncased"]["bleu"] == out["uncased"]["bleu"] and upper["cased"]["bleu"] < out["cased"]["bleu"]
    with pytest.raises(ValueError, match="2 hypotheses for 1 references"):
        corpus_bleu(hyps, refs[:1])


def test_detokenised_references_are_the_raw_references(mirror):
    # BLEU compares detokenised hypotheses with the raw lines: the German tokeniser, trained on the whole
    # training split as the tokenize stage does, must restore every val and test reference exactly
    # (a character never seen in training would become <unk>: the stage reports that count)
    raw = mirror / "multi30k" / "task1" / "raw"
    tok = T.train(corpus.read_split(raw, "train")[1], 8000, "de")
    for split in ("val", "test"):
        refs = corpus.read_split(raw, split)[1]
        assert T.decode(tok, T.encode(tok, refs)) == refs


def test_evaluation_fits_t_on_validation_and_adds_it_to_the_temperature_curve():
    torch.manual_seed(0)
    model = build_model("transformer", (), 11, {"src_vocab": 13, "d_model": 16, "heads": 2, "enc_layers": 1,
                                               "dec_layers": 1, "ffn": 32, "dropout": 0.0, "init": "xavier"})
    split, _, _ = _split(n=12, seed=5)
    tok = T.train([" ".join(f"w{i}" for i in range(k)) for k in range(1, 30)], 40, "de")
    refs = ["w1 w2 w3"] * 12
    t = {"eval_batch_size": 5, "max_extra_tokens": 3, "beam": 2, "length_penalty": 0.6,
         "bleu_temperatures": [0.5, 1.0, 2.0], "token_temperatures": {"min": 0.5, "max": 2.0, "steps": 7}}
    both, refs2 = {"val": split, "test": split}, {"val": refs, "test": refs}
    r = evaluate_run(model, both, refs2, tok, t, bleu_sentences=7, n_bins=15)
    m = r["metrics"]
    for rows, want in ((r["tokens"], {0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0}), (r["bleu"], {0.5, 1.0, 2.0})):
        temps = [row["temperature"] for row in rows]
        assert temps == sorted(temps) and set(temps) == want | {m["temperature"]}
    assert m["bleu_sentences"] == 7 and len(r["beam"]) == len(r["greedy"]) == 7
    # val is test here: the validation metrics (the replication's split) are the test ones, computed apart
    assert (m["val_tokens"], m["val_token_acc"], m["val_ece"]) == (m["tokens"], m["test_token_acc"], m["test_ece"])
    assert m["val_ece_ts"] == m["test_ece_ts"] and m["val_bleu_sentences"] == 7
    assert (m["val_bleu_beam"], m["val_bleu_greedy"]) == (m["bleu_beam"], m["bleu_greedy"])
    fitted = next(row for row in r["tokens"] if row["fitted"])
    assert fitted["nll"] == pytest.approx(min(row["nll"] for row in r["tokens"]), abs=1e-6)  # val is test here
    assert m["tokens"] == int(split["tgt"]["len"].sum() - 12)   # every real target token, EOS included, no BOS
    few = evaluate_run(model, both, refs2, tok, t, bleu_sentences=7, n_bins=15,
                       token_sentences=4)["metrics"]
    assert few["tokens"] == int(split["tgt"]["len"][:4].sum() - 4)  # the first 4 pairs only
    assert few["bleu_sentences"] == 7 and few["test_nll"] != m["test_nll"]


def test_incremental_decoding_gives_the_full_decoders_logits_at_every_position():
    torch.manual_seed(0)
    model = build_model("transformer", (), 11, {"src_vocab": 13, "d_model": 16, "heads": 2, "enc_layers": 2,
                                               "dec_layers": 2, "ffn": 32, "dropout": 0.3, "init": "xavier"}).eval()
    src = torch.randint(4, 13, (3, 6), generator=torch.Generator().manual_seed(1))
    src[1, 4:] = T.PAD
    tgt = torch.cat([torch.full((3, 1), T.BOS), torch.randint(4, 11, (3, 7), generator=torch.Generator())], 1)
    memory, pad = model.encode(src)
    full = model.decode(memory, pad, tgt)
    cache = None
    for t in range(tgt.shape[1]):
        z, cache = model.step(memory, pad, cache, tgt[:, t])
        torch.testing.assert_close(z, full[:, t], atol=1e-5, rtol=1e-5)
