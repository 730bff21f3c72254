"""Subword tokenisers trained offline on the training split (HF ``tokenizers``, BPE).

One tokeniser per language, so English and German can never be swapped
(the replication's defect): the file name says the language, and
``load(path, lang)`` checks it. Text is NFC-normalised and split on
whitespace with a SentencePiece-style metaspace (▁), so decoding restores
the sentence exactly up to runs of whitespace: BLEU is computed on
detokenised text against the raw references.

Ids 0..3 are the specials PAD, BOS, EOS, UNK in every tokeniser.
"""
from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
PAD, BOS, EOS, UNK = range(4)


def train(sentences: list[str], vocab_size: int, lang: str) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(sentences, trainer=trainer)
    tok.add_special_tokens(SPECIALS)
    for i, s in enumerate(SPECIALS):
        if tok.token_to_id(s) != i:
            raise RuntimeError(f"special token {s} got id {tok.token_to_id(s)}, expected {i}")
    return tok


def save(tok: Tokenizer, path: Path) -> None:
    from ..io import write_text
    write_text(path, tok.to_str())


def load(path: Path, lang: str) -> Tokenizer:
    if not Path(path).name.startswith(f"{lang}."):
        raise ValueError(f"{path} is not the {lang!r} tokeniser (expected a file named {lang}.json)")
    return Tokenizer.from_file(str(path))


def encode(tok: Tokenizer, sentences: list[str]) -> list[list[int]]:
    return [e.ids for e in tok.encode_batch(sentences, add_special_tokens=False)]


def decode(tok: Tokenizer, ids: list[list[int]]) -> list[str]:
    """Ids (without PAD/BOS/EOS) back to detokenised text."""
    return tok.decode_batch([[i for i in seq if i not in (PAD, BOS, EOS)] for seq in ids], skip_special_tokens=False)
