"""Encoder-decoder Transformer for translation: ``nn.Transformer`` as in PyTorch's translation tutorial
(the replication's model: 3+3 layers, d_model 512, 8 heads, FFN 512), with token embeddings scaled by
√d_model, sinusoidal positions and an output projection to the target vocabulary.

``forward((src, tgt_in))`` gives logits [B, T, V] under teacher forcing; ``encode`` and the
incremental ``step`` serve greedy and beam search (pipeline/text/decoding.py). PAD (id 0) is masked as a
key everywhere; the decoder is causal.

Initialisation (``init``): ``"xavier"`` applies ``xavier_uniform_`` to every parameter with more than
one dimension, embeddings and output projection included, as the replication's ``getModel`` does;
``"pytorch"`` keeps the modules' own defaults (``nn.Embedding``'s N(0, 1): after the ×√d_model scaling
an embedding coordinate has std √d_model, against a positional-encoding rms of 0.71).
"""
from __future__ import annotations

import math

import torch
from torch import nn

TITLE = "Transformer"  # how tables and figures name it (models.title)

PAD = 0


class PositionalEncoding(nn.Module):
    def __init__(self, d_model: int, max_len: int = 512):
        super().__init__()
        pos = torch.arange(max_len)[:, None]
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[: x.shape[1]]


class Seq2SeqTransformer(nn.Module):
    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 512, heads: int = 8, enc_layers: int = 3,
                 dec_layers: int = 3, ffn: int = 512, dropout: float = 0.0, init: str = "xavier"):
        super().__init__()
        self.d_model = d_model
        self.src_emb, self.tgt_emb = nn.Embedding(src_vocab, d_model), nn.Embedding(tgt_vocab, d_model)
        self.pos, self.drop = PositionalEncoding(d_model), nn.Dropout(dropout)
        self.core = nn.Transformer(d_model, heads, enc_layers, dec_layers, ffn, dropout, batch_first=True)
        # padded batches stay dense (no nested-tensor fast path): the same numbers in train and eval mode
        self.core.encoder.enable_nested_tensor = self.core.encoder.use_nested_tensor = False
        self.head = nn.Linear(d_model, tgt_vocab)
        if init == "xavier":
            for w in self.parameters():
                if w.dim() > 1:
                    nn.init.xavier_uniform_(w)
        elif init != "pytorch":
            raise ValueError(f"unknown Transformer init {init!r} (xavier or pytorch)")

    def _embed(self, emb: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
        return self.drop(self.pos(emb(ids) * math.sqrt(self.d_model)))

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pad = src == PAD
        return self.core.encoder(self._embed(self.src_emb, src), src_key_padding_mask=pad), pad

    def decode(self, memory: torch.Tensor, src_pad: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, V] for every position of tgt_in (causal)."""
        t = tgt_in.shape[1]
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=tgt_in.device), diagonal=1)
        h = self.core.decoder(self._embed(self.tgt_emb, tgt_in), memory, tgt_mask=causal,
                              tgt_key_padding_mask=tgt_in == PAD, memory_key_padding_mask=src_pad)
        return self.head(h)

    @torch.no_grad()
    def step(self, memory: torch.Tensor, src_pad: torch.Tensor, cache: list[torch.Tensor] | None,
             token: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Incremental decoding (eval mode): feed ``token`` [B] at the next position; return the logits
        [B, V] there and the cache (each decoder layer's inputs so far, [B, t, d]).

        The same numbers as ``decode`` on the whole prefix, at a fraction of the work: the decoder is
        causal, so earlier positions never change and only the new one goes through the layers, its
        self-attention reading the cached inputs (``nn.Transformer`` has no key/value cache of its own).
        Mirrors ``nn.TransformerDecoderLayer`` (post-norm, as built here) without dropout.
        """
        t = 0 if cache is None else cache[0].shape[1]
        x = self.tgt_emb(token)[:, None] * math.sqrt(self.d_model) + self.pos.pe[t]
        new_cache = []
        for i, layer in enumerate(self.core.decoder.layers):
            seen = x if cache is None else torch.cat([cache[i], x], 1)
            new_cache.append(seen)
            x = layer.norm1(x + layer.self_attn(x, seen, seen, need_weights=False)[0])
            x = layer.norm2(x + layer.multihead_attn(x, memory, memory, key_padding_mask=src_pad,
                                                     need_weights=False)[0])
            x = layer.norm3(x + layer.linear2(layer.activation(layer.linear1(x))))
        return self.head(self.core.decoder.norm(x)[:, 0]), new_cache

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        src, tgt_in = batch
        memory, pad = self.encode(src)
        return self.decode(memory, pad, tgt_in)


def build(in_shape, num_classes: int, cfg: dict) -> Seq2SeqTransformer:
    """``in_shape`` is unused; ``num_classes`` is the target vocabulary; cfg holds the sizes."""
    return Seq2SeqTransformer(cfg["src_vocab"], num_classes, cfg["d_model"], cfg["heads"], cfg["enc_layers"],
                              cfg["dec_layers"], cfg["ffn"], cfg["dropout"],
                              cfg["init"])
