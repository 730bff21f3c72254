"""Training G FCNs stacked gives each member the run it would have had alone."""
from __future__ import annotations

import pytest
import torch

from pipeline.data.augment import random_shift
from pipeline.losses import label_smoothing_ce
from pipeline.models.fcn import FCN
from pipeline.models.stacked_fcn import StackedFCN
from pipeline.training.builders import linear_decay, sgd_per_layer
from pipeline.training.loop import EpochBatches
from pipeline.training.stacking import member_state, stacked_optimizer

X = torch.randint(0, 256, (600, 12, 12), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
Y = torch.randint(0, 5, (600,), generator=torch.Generator().manual_seed(1))
ALPHAS, SEEDS, STEPS, LRS = [0.0, 0.1, 0.3], [0, 1, 2], 25, [0.5, 0.5, 0.05]


def member(seed: int) -> FCN:
    torch.manual_seed(seed)
    return FCN(144, 5, [64, 32])


def batches_for(seed: int):
    b, g = EpochBatches(len(X), 64, seed, torch.device("cpu")), torch.Generator().manual_seed(seed)

    def get(step):
        idx = b(step)
        return random_shift(X[idx], 2, g).float() / 255, Y[idx]
    return get


def alone(seed: int, alpha: float) -> FCN:
    m = member(seed)
    opt = sgd_per_layer(m, LRS, 0.9, 0.9, 0.0)
    sched = linear_decay(opt, STEPS)
    get = batches_for(seed)
    for step in range(STEPS):
        x, y = get(step)
        loss = label_smoothing_ce(m(x), y, alpha)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return m


def test_stacked_training_matches_training_each_member_alone():
    stack = StackedFCN([member(s) for s in SEEDS])
    opt = stacked_optimizer(stack, member(0), {"lr": LRS, "momentum": 0.9, "dampening": 0.9, "weight_decay": 0.0})
    sched = linear_decay(opt, STEPS)
    gets = [batches_for(s) for s in SEEDS]
    for step in range(STEPS):
        xs, ys = zip(*(g(step) for g in gets))
        logits = stack(torch.stack(xs))
        loss = sum(label_smoothing_ce(logits[i], ys[i], a) for i, a in enumerate(ALPHAS))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    for g, (seed, alpha) in enumerate(zip(SEEDS, ALPHAS)):
        state = member_state(stack, stack.state_dict(), g)
        ref = alone(seed, alpha)
        for k, v in ref.state_dict().items():
            assert torch.allclose(state[k], v, rtol=1e-4, atol=1e-5), (seed, k)   # float summation order only


def test_stacked_forward_equals_members_and_member_states_round_trip():
    members = [member(s) for s in SEEDS]
    stack = StackedFCN(members)
    x = torch.rand(3, 7, 12, 12)
    out = stack(x)
    for i, m in enumerate(members):
        assert torch.allclose(out[i], m(x[i]), atol=1e-6)
        fresh = FCN(144, 5, [64, 32])
        fresh.load_state_dict(member_state(stack, stack.state_dict(), i))
        assert torch.allclose(fresh(x[i]), m(x[i]), atol=1e-6)


def test_stacking_refuses_dropout_and_mixed_shapes():
    with pytest.raises(ValueError, match="dropout"):
        StackedFCN([FCN(144, 5, [64], dropout=0.5)])
    with pytest.raises(ValueError, match="same layer sizes"):
        StackedFCN([FCN(144, 5, [64]), FCN(144, 5, [32])])


def alexnet(seed: int):
    from pipeline.models.alexnet import AlexNetCifar
    torch.manual_seed(seed)
    return AlexNetCifar(10, in_size=24)


@pytest.mark.parametrize("channels_last", [False, True])
def test_stacked_alexnet_computes_each_members_own_network(channels_last):
    from pipeline.models.stacked_alexnet import StackedAlexNet
    from pipeline.training.stacking import stacked_state
    members = [alexnet(s) for s in (0, 1, 2)]
    stack = StackedAlexNet(members)
    stack.channels_last = channels_last
    # Large inputs: LRN's denominator then matters, so a window reaching a neighbour's channels shows.
    x = 100 * torch.randn(3, 5, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    out = stack(x)
    assert out.shape == (3, 5, 10)
    for g, m in enumerate(members):
        # Its own filters, its own LRN window (never a neighbour's channels), its own fc layers.
        torch.testing.assert_close(out[g], m(x[g]), rtol=1e-4, atol=1e-5)
    sd = stack.state_dict()
    for g, m in enumerate(members):
        own = member_state(stack, sd, g)
        assert all(torch.equal(own[k], v) for k, v in m.state_dict().items())
    back = stacked_state(stack, [member_state(stack, sd, g) for g in range(3)])
    assert back.keys() == sd.keys() and all(torch.equal(back[k], sd[k]) for k in sd)


def test_stacked_optimizer_keeps_the_members_groups():
    """AlexNet: weight decay on fc3 and fc4 weights only; FCN: one learning rate per layer."""
    from pipeline.models.stacked_alexnet import StackedAlexNet
    stack = StackedAlexNet([alexnet(0), alexnet(1)])
    opt = stacked_optimizer(stack, alexnet(0), {"lr": 0.1, "momentum": 0.0, "weight_decay": 0.04, "decay_on": "model"})
    decayed = [g for g in opt.param_groups if g["weight_decay"] == 0.04]
    assert [p.shape for p in decayed[0]["params"]] == [(2, 384, 2304), (2, 192, 384)]
    fcn = StackedFCN([member(0), member(1)])
    opt = stacked_optimizer(fcn, member(0), {"lr": LRS, "momentum": 0.9, "dampening": 0.9, "weight_decay": 0.0})
    assert [g["lr"] for g in opt.param_groups] == LRS and [len(g["params"]) for g in opt.param_groups] == [2, 2, 2]
