"""Translation building blocks: tokeniser round trip, PAD-masked metrics, the temperature on the
logits, label smoothing over sequences, and beam search against greedy decoding."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pipeline.losses import sequence_ce
from pipeline.models import build_model
from pipeline.text import decoding, metrics
from pipeline.text import tokenizer as T

SENTENCES = ["Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
             "Mehrere Männer mit Schutzhelmen bedienen ein Antriebsradsystem.",
             "Ein kleines Mädchen klettert in ein Spielhaus aus Holz."] * 20


def test_tokenizer_round_trips_sentences_and_fixes_the_special_ids(tmp_path):
    tok = T.train(SENTENCES, 200, "de")
    ids = T.encode(tok, ["Ein kleines Mädchen klettert in ein Spielhaus aus Holz."])
    assert T.decode(tok, ids) == ["Ein kleines Mädchen klettert in ein Spielhaus aus Holz."]
    assert [tok.token_to_id(s) for s in T.SPECIALS] == [T.PAD, T.BOS, T.EOS, T.UNK]
    T.save(tok, tmp_path / "de.json")
    assert T.decode(T.load(tmp_path / "de.json", "de"), ids) == T.decode(tok, ids)
    with pytest.raises(ValueError, match="not the 'en' tokeniser"):
        T.load(tmp_path / "de.json", "en")          # the replication swapped en and de


def _batch(seed=0, b=3, t=5, v=7):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, t, v, generator=g)
    targets = torch.randint(1, v, (b, t), generator=g)
    targets[0, 3:] = metrics.PAD
    targets[2, 1:] = metrics.PAD
    return logits, targets


def test_padding_does_not_change_any_metric():
    logits, targets = _batch()
    padded_logits = torch.cat([logits, torch.randn(3, 4, 7) * 50], 1)   # garbage at extra PAD positions
    padded_targets = torch.cat([targets, torch.zeros(3, 4, dtype=torch.long)], 1)
    a, b = metrics.token_metrics(logits, targets), metrics.token_metrics(padded_logits, padded_targets)
    assert a == pytest.approx(b) and a["tokens"] == 5 + 3 + 1
    torch.testing.assert_close(sequence_ce(logits, targets, 0.1, T.PAD),
                               sequence_ce(padded_logits, padded_targets, 0.1, T.PAD))


def test_nll_is_the_mean_over_real_tokens_of_minus_log_softmax_over_the_vocabulary():
    logits, targets = _batch()
    total, n = 0.0, 0
    for i in range(3):
        for j in range(5):
            if targets[i, j] != 0:
                z = logits[i, j].double()
                total += -(z[targets[i, j]].item() - math.log(sum(math.exp(v) for v in z.tolist())))
                n += 1
    assert metrics.token_metrics(logits, targets)["nll"] == pytest.approx(total / n, rel=1e-9)


def test_temperature_divides_the_logits():
    logits, targets = _batch()
    assert metrics.token_metrics(logits, targets, 2.0)["nll"] == pytest.approx(
        metrics.token_metrics(logits / 2.0, targets)["nll"], rel=1e-9)
    assert metrics.token_metrics(logits, targets, 2.0)["ece"] == pytest.approx(
        metrics.token_metrics(logits / 2.0, targets)["ece"], rel=1e-9)


def test_sequence_label_smoothing_spreads_alpha_over_the_whole_vocabulary():
    logits, targets = _batch()
    z, y = metrics.real_tokens(logits, targets)
    v = logits.shape[-1]
    soft = F.one_hot(y, v).double() * 0.9 + 0.1 / v     # PAD (id 0) gets α/V like every other entry
    ref = -(soft * torch.log_softmax(z.double(), -1)).sum(-1).mean()
    torch.testing.assert_close(sequence_ce(logits, targets, 0.1, T.PAD).double(), ref, rtol=1e-6, atol=1e-7)


def _tiny_model():
    torch.manual_seed(0)
    return build_model("transformer", (), 11, {"src_vocab": 13, "d_model": 16, "heads": 2, "enc_layers": 1,
                                               "dec_layers": 1, "ffn": 32, "dropout": 0.0, "init": "xavier"})


def test_beam_one_equals_greedy_and_greedy_ignores_the_temperature():
    model = _tiny_model()
    src = torch.randint(4, 13, (6, 7), generator=torch.Generator().manual_seed(1))
    src[3, 4:] = T.PAD
    g = decoding.greedy(model, src, max_len=9)
    assert decoding.beam_search(model, src, 9, beam=1, length_penalty=0.0) == g
    assert decoding.greedy(model, src, 9, temperature=3.0) == g


def test_beam_search_finds_a_hypothesis_at_least_as_likely_as_greedy():
    model = _tiny_model()
    src = torch.randint(4, 13, (4, 6), generator=torch.Generator().manual_seed(2))

    def logp(i, hyp):
        tgt = torch.tensor([[T.BOS] + hyp + [T.EOS]])
        z = model.eval()((src[i:i + 1], tgt[:, :-1]))
        return torch.log_softmax(z.double(), -1)[0].gather(1, tgt[0, 1:, None]).sum().item()
    g = decoding.greedy(model, src, max_len=8)
    b = decoding.beam_search(model, src, 8, beam=4, length_penalty=0.0)
    for i in range(4):
        if len(g[i]) < 8 and len(b[i]) < 8:      # both ended with EOS
            assert logp(i, b[i]) >= logp(i, g[i]) - 1e-9
