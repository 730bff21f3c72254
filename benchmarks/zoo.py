"""Benchmark rows for AlexNet, ResNet-56 (CIFAR-10) and the Transformer (Multi30k); see throughput.py.

(a) is the replication's style for each: for the convnets, a torchvision-style CIFAR dataset (a uint8
array turned into a PIL image per item, as ``torchvision.datasets.CIFAR10`` does) with per-sample
transforms through a DataLoader; for the Transformer, PyTorch's translation tutorial (raw sentence
pairs, tokenised and padded in the DataLoader's ``collate_fn`` for every batch, random batches). Both
read the loss back every step. (b) is the pipeline's own code: uint8 tensors or token ids on the
device, batched augmentation (pipeline/data/inputs.py), length-sorted batches
(pipeline/text/batches.py), the loss read back only every ``log_every`` steps.
"""
from __future__ import annotations

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.flop_counter import FlopCounterMode

from pipeline.config import load_params
from pipeline.data import prepared
from pipeline.data.fetch import fetch_dataset, mirror_root
from pipeline.data.inputs import train_batch
from pipeline.data.registry import get
from pipeline.layout import RAW
from pipeline.losses import label_smoothing_ce, sequence_ce
from pipeline.models import build_model
from pipeline.run_configs import convnet_config, label_smoothing
from pipeline.text import batches as TB
from pipeline.text import corpus
from pipeline.text import tokenizer as tk
from pipeline.training.builders import build_optimizer, prepare_model, resolve_execution
from pipeline.training.stacking import STACKED, stack_models, stacked_optimizer


def train_flops(model, loss_of_batch) -> float:
    """FLOPs of one forward + backward, counted by PyTorch's FlopCounterMode."""
    with FlopCounterMode(display=False) as fc:
        loss_of_batch().backward()
    model.zero_grad(set_to_none=True)
    return float(fc.get_total_flops())


def _cifar(dataset: str) -> dict:
    pt, _ = prepared.paths(dataset)
    if not pt.exists():
        from pipeline.stages.preprocess import prepare
        fetch_dataset(get(dataset), RAW / dataset, mirror_root())
        p = load_params()
        prepare(dataset, p["data"]["val_size"], p["data"]["split_seed"], p["data"]["cifar_report"])
    return prepared.load(dataset)[0]


class TorchvisionStyleCIFAR(torch.utils.data.Dataset):
    """What torchvision.datasets.CIFAR10 does per item: HWC uint8 array -> PIL image -> transforms."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform):
        self.x, self.y, self.transform = x.permute(0, 2, 3, 1).contiguous().numpy(), y.tolist(), transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.fromarray(self.x[i])), self.y[i]


def _pil_transform(tv, arch: str):
    T = tv.transforms
    mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
    crop = [T.RandomCrop(24)] if arch == "alexnet" else [T.RandomCrop(32, padding=4)]
    return T.Compose(crop + [T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(mean, std)])


def _loop(model, opt, next_batch, loss_fn, read_every: int, bf16: bool = False):
    """A training step closure; the loss is read back every ``read_every`` steps (1 = every step)."""
    state = {"n": 0, "acc": None}
    device_type = next(model.parameters()).device.type

    def step():
        x, y = next_batch()
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["acc"] = loss.detach() if state["acc"] is None else state["acc"] + loss.detach()
        state["n"] += 1
        if state["n"] % read_every == 0:
            state["acc"].item()
            state["acc"] = None
    return step


def _cycle(loader):
    while True:
        yield from loader


def convnet_steps(arch: str, device: torch.device, workers: int, log_every: int, stack: int,
                  dataset: str = "cifar10_jpeg"):
    """(a), (b) and (c) step closures (c: None where the model has no stacked form), the batch size
    and the training FLOPs per sample of ``arch``. (b) and (c) run as the stages would on this device
    (``execution`` with the params' defaults: bf16 autocast and channels_last on CUDA)."""
    from pipeline.compat import import_torchvision
    tv = import_torchvision()
    p = load_params()
    cfg = convnet_config(p, arch, dataset, 0, label_smoothing(0.1, p["convnets"][arch]["loss_scale"]))
    data = _cifar(dataset)
    bs, loss = cfg["batch_size"], lambda z, y: label_smoothing_ce(z, y, 0.1, cfg["loss"]["scale"])

    def model_and_opt():
        torch.manual_seed(0)
        m = build_model(arch, tuple(data["train_x"].shape[1:]), 10, cfg["model"]).to(device)
        return m, build_optimizer(m, cfg["optim"])

    ds = TorchvisionStyleCIFAR(data["train_x"], data["train_y"], _pil_transform(tv, arch))
    loader = torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True, drop_last=True, num_workers=workers,
                                         persistent_workers=workers > 0)
    it = _cycle(loader)
    ma, oa = model_and_opt()
    a = _loop(ma, oa, lambda: tuple(t.to(device) for t in next(it)), loss, 1)

    x, y = data["train_x"].to(device), data["train_y"].to(device)
    ex = resolve_execution(p["execution"], device, arch, stackable=True)
    gen = torch.Generator(device=device).manual_seed(0)
    mb, ob = model_and_opt()
    mb = prepare_model(mb, ex)
    fmt = torch.channels_last if ex["channels_last"] else torch.contiguous_format

    def device_batch():
        idx = torch.randint(len(x), (bs,), device=device, generator=gen)
        return train_batch(x[idx], cfg["input"], gen).contiguous(memory_format=fmt), y[idx]
    b = _loop(mb, ob, device_batch, loss, log_every, bf16=ex["precision"] == "bf16")
    xb, yb = device_batch()
    flops = train_flops(mb, lambda: loss(mb(xb), yb)) / bs
    c = _stacked_convnet(arch, cfg, x, y, device, stack, ex, loss, log_every) if arch in STACKED else None
    return a, b, c, bs, flops


def _stacked_convnet(arch, cfg, x, y, device, stack: int, ex: dict, loss, log_every: int):
    """(c): ``stack`` models trained at once as the stages do (pipeline/training/many.py), each on
    its own batches and augmentation draws; the caller counts every member's samples."""
    members = []
    for s in range(stack):
        torch.manual_seed(s)
        members.append(build_model(arch, tuple(x.shape[1:]), 10, cfg["model"]))
    model = stack_models(arch, members).to(device)
    model.channels_last = ex["channels_last"]
    opt = stacked_optimizer(model, members[0], cfg["optim"])
    gens = [torch.Generator(device=device).manual_seed(s) for s in range(stack)]
    bs = cfg["batch_size"]

    def batches():
        idx = [torch.randint(len(x), (bs,), device=device, generator=g) for g in gens]
        return (torch.stack([train_batch(x[i], cfg["input"], g) for i, g in zip(idx, gens)]),
                torch.stack([y[i] for i in idx]))
    return _loop(model, opt, batches, lambda z, ys: sum(loss(z[k], ys[k]) for k in range(stack)), log_every,
                 bf16=ex["precision"] == "bf16")


def transformer_steps(device: torch.device, workers: int, log_every: int, profile: str, half: bool = False):
    """(a) tutorial-style and (b) pipeline step closures for the Transformer of ``profile``; (b) under bf16
    autocast with ``half`` (a stays fp32, the tutorial's)."""
    p = load_params()
    t, prof = p["translation"], p["profiles"][profile]["translation"]
    m = prof["model"]
    raw = RAW / "multi30k"
    fetch_dataset(get("multi30k"), raw, mirror_root())
    en, de = corpus.read_split(raw, "train")
    tok_en, tok_de = tk.train(en, prof["vocab_size"], "en"), tk.train(de, prof["vocab_size"], "de")
    bs = t["batch_size"]
    cfg = {**m, "dropout": t["dropout"], "init": t["init"], "src_vocab": tok_en.get_vocab_size()}

    def model_and_opt():
        torch.manual_seed(0)
        model = build_model("transformer", (), tok_de.get_vocab_size(), cfg).to(device)
        return model, torch.optim.Adam(model.parameters(), lr=1e-4, betas=tuple(t["adam"]["betas"]),
                                       eps=t["adam"]["eps"])
    loss = lambda z, y: sequence_ce(z, y, 0.1, tk.PAD)  # noqa: E731

    def collate(pairs):  # the tutorial tokenises and pads every batch in collate_fn
        src = [torch.tensor(tk.encode(tok_en, [s])[0] + [tk.EOS]) for s, _ in pairs]
        tgt = [torch.tensor([tk.BOS] + tk.encode(tok_de, [g])[0] + [tk.EOS]) for _, g in pairs]
        src, tgt = pad_sequence(src, True, tk.PAD), pad_sequence(tgt, True, tk.PAD)
        return (src, tgt[:, :-1]), tgt[:, 1:]
    loader = torch.utils.data.DataLoader(list(zip(en, de)), batch_size=bs, shuffle=True, drop_last=True,
                                         collate_fn=collate, num_workers=workers, persistent_workers=workers > 0)
    it = _cycle(loader)
    ma, oa = model_and_opt()

    def host_batch():
        (s, ti), to = next(it)
        return (s.to(device), ti.to(device)), to.to(device)
    a = _loop(ma, oa, host_batch, loss, 1)

    split = TB.to_device({"src": TB.pack(tk.encode(tok_en, en), bos=False),
                          "tgt": TB.pack(tk.encode(tok_de, de), bos=True)}, device)
    batches, counter = TB.TrainBatches(split, bs, seed=0), iter(range(10 ** 9))
    mb, ob = model_and_opt()
    b = _loop(mb, ob, lambda: batches(next(counter), None), loss, log_every, bf16=half)
    xb, yb = batches(0, None)
    flops = train_flops(mb, lambda: loss(mb(xb), yb)) / bs
    return a, b, bs, flops
