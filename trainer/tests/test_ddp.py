"""Data-parallel training under torchrun: two CPU ranks on gloo, the way septflow launches them."""
import json
import os
import signal

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from conftest import final_weights, max_weight_difference, run_trainer, start_trainer, write_config
from septtrainer import checkpoint
from septtrainer.config import ConfigError
from septtrainer.distributed import World, all_rows, rank_batch_size
from septtrainer.engine import rank_batches
from septtrainer.launch import exit_code
from septtrainer.methods import nt_xent

STEPS = 10  # 150 images / batch 32 = 4 steps per epoch: the run crosses two epoch boundaries
SMALL_IDS = ["s3://bucket/small-0.tar#version-1"]


def world(rank, size):
    return World(rank=rank, size=size, local_rank=rank, local_size=size)


def config(directory, name, shards, **fields):
    return write_config(directory, name, **{
        "output_dir": os.path.join(directory, name), "train_shards": shards["small"], "train_shard_ids": SMALL_IDS,
        "method": "simclr", "model": "cnn_small", "batch_size": 32, "max_steps": STEPS,
        "checkpoint_every_steps": 3, "keep_checkpoints": 10, "log_every_steps": 1, **fields})


def checkpoint_at(events, step):
    return [e["path"] for e in events if e["event"] == "checkpoint" and e["step"] == step][0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, shards):
    """An uninterrupted two-rank run."""
    directory = str(tmp_path_factory.mktemp("ddp"))
    code, events, err = run_trainer("pretrain", config(directory, "reference", shards), processes=2)
    assert code == 0, err
    return directory, events


@pytest.mark.parametrize("size", [1, 2, 4])
def test_the_ranks_shares_of_a_step_are_the_single_process_batch(size):
    seed, dataset_size, batch_size = 7, 150, 32
    single = list(rank_batches(seed, 1, 2, dataset_size, batch_size, world(0, 1)))
    shares = [list(rank_batches(seed, 1, 2, dataset_size, batch_size, world(rank, size))) for rank in range(size)]
    assert len(single) == dataset_size // batch_size - 2
    for step, batch in enumerate(single):
        assert np.array_equal(np.concatenate([share[step] for share in shares]), batch)


class Contrast(nn.Module):
    """SimCLR's loss over projections of two views, as methods.SimCLR gathers them."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.projector = nn.Linear(4, 3)

    def forward(self, first, second):
        first, second = (F.normalize(self.projector(v), dim=1) for v in (first, second))
        return nt_xent(torch.cat([all_rows(first), all_rows(second)]), 0.5)


def contrast_gradient(rank, size, store, out):
    """Rank `rank`'s gradient of Contrast on its share of a global batch of 8 pairs, after DDP's average."""
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=size)
    first, second = torch.randn(2, 8, 4, generator=torch.Generator().manual_seed(1))
    share = slice(rank * 8 // size, (rank + 1) * 8 // size)
    model = DistributedDataParallel(Contrast())
    model(first[share], second[share]).backward()
    torch.save(model.module.projector.weight.grad, f"{out}-{rank}.pt")
    dist.destroy_process_group()


def test_simclr_on_two_ranks_has_the_global_batchs_gradient(tmp_path):
    first, second = torch.randn(2, 8, 4, generator=torch.Generator().manual_seed(1))
    alone = Contrast()
    alone(first, second).backward()
    torch.multiprocessing.spawn(contrast_gradient, args=(2, str(tmp_path / "store"), str(tmp_path / "grad")), nprocs=2)
    for rank in range(2):
        assert torch.allclose(torch.load(tmp_path / f"grad-{rank}.pt"), alone.projector.weight.grad, atol=1e-6)


def test_a_batch_that_does_not_divide_over_the_processes_is_a_config_error(shards, tmp_path):
    assert rank_batch_size(32, world(1, 4)) == 8
    with pytest.raises(ConfigError, match="config.batch_size: 30 does not divide over 4 processes"):
        rank_batch_size(30, world(0, 4))
    code, events, err = run_trainer("pretrain", config(str(tmp_path), "odd", shards, batch_size=31), processes=2)
    assert code == 2 and events == [], err
    assert "config.batch_size: 31 does not divide over 2 processes; use a multiple of 2" in err


def test_the_launcher_keeps_the_exit_codes_every_rank_agrees_on():
    class Failure:
        def __init__(self, exitcode):
            self.exitcode = exitcode
    assert exit_code({0: Failure(2), 1: Failure(2)}) == 2
    # Rank 0 was still exiting when torchrun, seeing rank 1's exit, stopped it.
    assert exit_code({0: Failure(-15), 1: Failure(143)}) == 143
    assert exit_code({0: Failure(-15), 1: Failure(2)}) == 2
    assert exit_code({1: Failure(-9)}) == 1
    assert exit_code({0: Failure(-15), 1: Failure(-9)}) == 1
    assert exit_code({0: Failure(143), 1: Failure(1)}) == 1


def test_only_rank_0_speaks_and_counts_the_global_batch(reference):
    _, events = reference
    progress = [e for e in events if e["event"] == "progress"]
    assert [e["step"] for e in progress] == list(range(1, STEPS + 1))
    assert [e["step"] for e in events if e["event"] == "checkpoint"] == [3, 6, 9, 10]
    assert [e["kind"] for e in events if e["event"] == "artifact"] == ["pretrained_checkpoint"]
    state = checkpoint.read(checkpoint_at(events, STEPS))
    assert (state.step, state.epoch, state.step_in_epoch) == (STEPS, 2, 2)


def interrupt(path, when, how, supervised=False):
    """Runs a two-rank pretrain, does `how(launcher)` at the first event for which `when` holds, and
    waits for the end; returns the launcher's exit code, the events and stderr."""
    launcher = start_trainer("pretrain", path, supervised=supervised, processes=2)
    seen = []
    for line in launcher.stdout:
        seen.append(json.loads(line))
        if when(seen[-1]):
            how(launcher)
            break
    seen += [json.loads(line) for line in launcher.stdout]
    return launcher.wait(timeout=60), seen, launcher.stderr.read()


def test_sigterm_stops_every_rank_after_rank_0s_checkpoint_and_resumes_exactly(reference, shards):
    directory, events = reference
    path = config(directory, "interrupted", shards)
    code, seen, err = interrupt(path, lambda e: e["event"] == "progress" and e["step"] == 2,
                                lambda launcher: launcher.send_signal(signal.SIGTERM))
    assert code == 143, err
    stop = seen[-1]
    assert stop["event"] == "checkpoint" and 2 <= stop["step"] < STEPS and os.path.isfile(stop["path"])

    code, resumed, err = run_trainer("pretrain", path, resume=stop["path"], processes=2)
    assert code == 0, err
    assert [e["step"] for e in resumed if e["event"] == "progress"][0] == stop["step"] + 1
    assert max_weight_difference(final_weights(resumed), final_weights(events)) <= 1e-6


def test_every_rank_of_a_supervised_job_stops_with_a_checkpoint_when_its_supervisor_is_gone(reference, shards):
    """The ranks share the launcher's stdin: a killed worker's end of it closes for all of them."""
    directory, _ = reference
    code, seen, err = interrupt(config(directory, "orphaned", shards), lambda e: e["event"] == "progress" and e["step"] == 2,
                                lambda launcher: launcher.stdin.close(), supervised=True)
    assert code == 143, err
    assert seen[-1]["event"] == "checkpoint" and 2 <= seen[-1]["step"] < STEPS


def test_a_killed_rank_fails_the_job_retryably_and_the_retry_resumes_exactly(reference, shards):
    directory, events = reference
    path = config(directory, "killed", shards)
    code, _, err = interrupt(path, lambda e: e["event"] == "checkpoint",
                             lambda launcher: os.kill(rank_pid(launcher.pid, 1), signal.SIGKILL))
    assert code == 1, err

    code, resumed, err = run_trainer("pretrain", path, resume=checkpoint.listed(os.path.join(directory, "killed", "checkpoints"))[-1],
                                     processes=2)
    assert code == 0, err
    assert max_weight_difference(final_weights(resumed), final_weights(events)) <= 1e-6


def test_another_process_count_resumes_at_the_checkpoints_step_optimizer_and_data_position(reference, shards):
    """One process continues a two-rank checkpoint taken mid-epoch."""
    directory, events = reference
    taken = checkpoint.read(checkpoint_at(events, 6))
    code, resumed, err = run_trainer("pretrain", config(directory, "alone", shards), resume=checkpoint_at(events, 6))
    assert code == 0, err
    first = [e for e in resumed if e["event"] == "progress"][0]
    assert (first["step"], first["epoch"]) == (7, 1)
    assert first["lr"] == pytest.approx([e for e in events if e["event"] == "progress" and e["step"] == 7][0]["lr"])
    final = checkpoint.read(checkpoint_at(resumed, STEPS))
    # AdamW counts its steps per parameter: the resumed optimizer went on from the checkpoint's count.
    assert {int(s["step"]) for s in taken.optimizer["state"].values()} == {6}
    assert {int(s["step"]) for s in final.optimizer["state"].values()} == {STEPS}
    assert all(torch.isfinite(w).all() for w in final.model.values() if w.is_floating_point())


def rank_pid(launcher_pid, rank):
    """The pid of torchrun's child process of the given rank (Linux /proc)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
        except OSError:
            continue
        if parent == launcher_pid and env.get(b"RANK") == str(rank).encode():
            return int(pid)
    raise AssertionError(f"no rank {rank} under launcher {launcher_pid}")
