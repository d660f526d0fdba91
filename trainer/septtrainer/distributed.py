"""Data parallelism: the training stages run as one process per device under torchrun, on one node
or on several (a gang: docs/stages/train.md, Many nodes).

Every rank runs the same program on the same config. torchrun tells each where it stands
(RANK and WORLD_SIZE over all nodes, LOCAL_RANK and LOCAL_WORLD_SIZE on its node, GROUP_RANK and
GROUP_WORLD_SIZE: its node among the nodes, and the rendezvous in MASTER_ADDR/MASTER_PORT); a
process started without torchrun is rank 0 of 1 and trains exactly as before. Ranks split each
global batch (config.batch_size) into equal contiguous shares, train a DistributedDataParallel
model whose gradients are averaged over ranks, and agree at every step boundary whether to stop.
Only rank 0 speaks the protocol (events) and writes checkpoints: its weights, optimizer and
scheduler state are every rank's, since all ranks apply the same averaged gradients.
"""
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from .config import ConfigError


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    local_rank: int
    local_size: int
    node: int = 0
    nodes: int = 1

    @property
    def leads(self):
        """Rank 0: the one that writes events and checkpoints."""
        return self.rank == 0


ALONE = World(rank=0, size=1, local_rank=0, local_size=1)


def world_from_env(env=os.environ):
    """This process's place among the ranks, from torchrun's variables; alone without them."""
    if "WORLD_SIZE" not in env:
        return ALONE
    return World(rank=int(env["RANK"]), size=int(env["WORLD_SIZE"]),
                 local_rank=int(env["LOCAL_RANK"]), local_size=int(env.get("LOCAL_WORLD_SIZE", env["WORLD_SIZE"])),
                 node=int(env.get("GROUP_RANK", 0)), nodes=int(env.get("GROUP_WORLD_SIZE", 1)))


def rank_batch_size(batch_size, world):
    """Images each rank trains on per step: the global batch stays config.batch_size whatever the ranks."""
    if batch_size % world.size:
        over = f"{world.size} processes" if world.nodes == 1 else f"{world.size} processes ({world.nodes} nodes × {world.local_size})"
        raise ConfigError("config.batch_size", f"{batch_size} does not divide over {over}; use a multiple of {world.size}")
    return batch_size // world.size


def rank_share(batch, world):
    """This rank's contiguous share of a global batch of indices: the shares of ranks 0..N-1,
    concatenated, are the batch itself, so the data order is the single process's."""
    share = len(batch) // world.size
    return batch[world.rank * share:(world.rank + 1) * share]


def default_threads(world):
    """Without config.threads, the node's cores are shared out over its ranks (torchrun alone would
    give each rank one OpenMP thread; torch alone would give each all of them)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores // world.local_size)


def device_of(world, device):
    """A rank's own GPU on CUDA (torchrun's LOCAL_RANK); the CPU is shared."""
    if device.type != "cuda" or world.size == 1:
        return device
    if world.local_rank >= torch.cuda.device_count():
        raise ConfigError("--nproc-per-node", f"rank {world.rank} needs GPU {world.local_rank} but "
                                              f"{torch.cuda.device_count()} are visible: one process per GPU at most")
    torch.cuda.set_device(world.local_rank)
    return torch.device("cuda", world.local_rank)


def join(world, device):
    """Joins the ranks' process group: NCCL between GPUs, gloo between CPU processes."""
    if world.size > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                device_id=device if device.type == "cuda" else None)


def leave(world):
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


class Objective(nn.Module):
    """A method's loss as the module's forward: DistributedDataParallel synchronizes the gradients
    of what runs through forward, and the methods train through `loss`."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, images, labels, generator):
        return self.model.loss(images, labels, generator)


def objective(model, world, device):
    """The callable the engine trains with. BatchNorm statistics are synchronized over the ranks
    only on CUDA (SyncBatchNorm has no CPU kernel): on CPU each rank normalizes by its own share."""
    if world.size == 1:
        return model.loss
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return DistributedDataParallel(Objective(model), device_ids=[device.index] if device.type == "cuda" else None)


class _AllRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rows):
        parts = [torch.empty_like(rows) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, rows.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        # Every rank computes the same loss of the same gathered rows, so every rank holds the same
        # gradient for all of them: scaled by the ranks, this rank's rows carry the whole loss's
        # gradient through DistributedDataParallel's average.
        return grad.chunk(dist.get_world_size())[dist.get_rank()] * dist.get_world_size()


def all_rows(rows):
    """The rows of every rank, in rank order, with gradients back to this rank's own: a loss over the
    batch (SimCLR's negatives) then sees the global batch, and trains as one process would on it."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return rows
    return _AllRows.apply(rows)


def agree_to_stop(requested, world, device):
    """True on every rank once any rank was asked to stop: the ranks must take the same number of
    steps, or the next gradient all-reduce would wait forever for the ones that left."""
    if world.size == 1:
        return requested
    flag = torch.tensor([int(requested)], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def mean_over_ranks(value, world, device):
    """The mean of a per-rank number over all ranks (each rank calls it at the same step)."""
    if world.size == 1:
        return value
    total = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return total.item() / world.size


def wait_for_leader(world):
    """Ranks other than 0 wait here until rank 0's checkpoint is written: under torchrun a rank that
    exits first gets the others killed, and rank 0 must not die mid-write."""
    if world.size > 1:
        dist.barrier()
