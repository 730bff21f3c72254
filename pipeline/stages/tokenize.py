"""DVC stage `tokenize`: subword tokenisers for Multi30k EN→DE and the encoded splits.

Usage: python -m pipeline.stages.tokenize
Trains one BPE tokeniser per language on the *training* split only
(profiles.<p>.translation.vocab_size entries each, specials PAD/BOS/EOS/UNK = 0..3) and
writes models/tokenizers/{en,de}.json. Encodes train/val/test
(test = test_2016_flickr) into data/tokenized/multi30k.pt (padded int32 ids and
lengths: source = sentence + EOS, target = BOS + sentence + EOS) and writes
data/tokenized/multi30k.json: sizes, token statistics, the raw German
references of val and test (BLEU is scored against these, never against
re-tokenised text) and the raw files' checksums.
"""
from __future__ import annotations

from ..config import load_params
from ..data import registry
from ..data.fetch import verify_dataset
from ..io import file_digests, save_tensors, write_json
from ..layout import RAW, TOKENIZED, TOKENIZERS
from ..stage import run
from ..text import corpus
from ..text import tokenizer as tk
from ..text.batches import pack

DATASET = "multi30k"


def main() -> int:
    p = load_params()
    raw = RAW / DATASET
    verify_dataset(registry.get(DATASET), raw)  # also when the stage runs outside DVC
    splits = {s: corpus.read_split(raw, s) for s in corpus.SPLITS}
    en_train, de_train = splits["train"]
    toks = {"en": tk.train(en_train, p["active"]["translation"]["vocab_size"], "en"),
            "de": tk.train(de_train, p["active"]["translation"]["vocab_size"], "de")}
    for lang, tok in toks.items():
        tk.save(tok, TOKENIZERS / f"{lang}.json")
    tensors, stats = {}, {}
    for split, (en, de) in splits.items():
        src, tgt = tk.encode(toks["en"], en), tk.encode(toks["de"], de)
        tensors[split] = {"src": pack(src, bos=False), "tgt": pack(tgt, bos=True)}
        unk = sum(t.count(tk.UNK) for t in tgt) + sum(t.count(tk.UNK) for t in src)
        stats[split] = {"pairs": len(en), "src_tokens": sum(map(len, src)), "tgt_tokens": sum(map(len, tgt)),
                        "longest_src": max(map(len, src)), "longest_tgt": max(map(len, tgt)), "unk": unk}
        print(f"tokenize: {split}: {len(en)} pairs, {stats[split]['tgt_tokens']} German subwords "
              f"(longest {stats[split]['longest_tgt']}), {unk} unknown")
    save_tensors(TOKENIZED / f"{DATASET}.pt", tensors)
    write_json(TOKENIZED / f"{DATASET}.json", {
        "vocab": {lang: tok.get_vocab_size() for lang, tok in toks.items()}, "stats": stats,
        "references": {s: splits[s][1] for s in ("val", "test")},
        "raw_sha256": {f.name: file_digests(raw / f.name)["sha256"] for f in sorted(raw.iterdir())}})
    return 0


if __name__ == "__main__":
    run(main)
