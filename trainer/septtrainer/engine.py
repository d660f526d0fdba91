"""The training loop shared by pretrain and finetune: data order, steps, checkpoints, stop on SIGTERM.

Under torchrun the loop runs on every rank (distributed.py): each takes its share of every global
batch, and rank 0 alone writes checkpoints and events.
"""
import math
import time

import torch

from . import checkpoint, distributed, protocol
from .data import batch_loader, epoch_order, epoch_seed, step_generator
from .precision import Precision


def warmup_cosine(total_steps, warmup_steps):
    def factor(step):
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return factor


def total_steps(config, steps_per_epoch):
    steps = config["epochs"] * steps_per_epoch
    return min(steps, config["max_steps"]) if config["max_steps"] else steps


def rank_batches(seed, epoch, first, dataset_size, batch_size, world):
    """This rank's share of each batch of the epoch from its step `first` on: the epoch's order is
    the same whatever the processes, so a checkpoint's (epoch, step) is the same data position for
    any number of them."""
    order = epoch_order(seed, epoch, dataset_size)
    for i in range(first, dataset_size // batch_size):
        yield distributed.rank_share(order[i * batch_size:(i + 1) * batch_size], world)


def train(stage, config, model, dataset, labels, device, architecture, resume_state, stop):
    """Trains model.loss over the dataset and returns the final checkpoint's path (None on ranks other than 0)."""
    world = distributed.world_from_env()
    batch_size, seed = config["batch_size"], config["seed"]
    steps_per_epoch = len(dataset) // batch_size
    total = total_steps(config, steps_per_epoch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total, config["warmup_steps"]))
    precision = Precision(device)
    scaler = precision.scaler

    step = 0
    if resume_state is not None:
        model.load_state_dict(resume_state.model)
        optimizer.load_state_dict(resume_state.optimizer)
        scheduler.load_state_dict(resume_state.scheduler)
        scaler.load_state_dict(resume_state.scaler)
        checkpoint.restore_rng_states(resume_state.rng)
        step = resume_state.step
        protocol.log(f"resumed at step {step} (epoch {resume_state.epoch}, step {resume_state.step_in_epoch} of it)")
    loss_of = distributed.objective(model, world, device)

    def save():
        if not world.leads:
            distributed.wait_for_leader(world)
            return None
        started = time.perf_counter()
        epoch, step_in_epoch = divmod(step, steps_per_epoch)
        state = checkpoint.Checkpoint(
            stage=stage, config=config, architecture=architecture, step=step, total_steps=total,
            epoch=epoch, step_in_epoch=step_in_epoch, epoch_seed=epoch_seed(seed, epoch),
            model=model.state_dict(), optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
            scaler=scaler.state_dict(), rng=checkpoint.rng_states(),
        )
        path = checkpoint.write(config["checkpoint_dir"], state, config["keep_checkpoints"])
        protocol.checkpoint(path, step, time.perf_counter() - started)
        distributed.wait_for_leader(world)
        return path

    loader = batch_loader(dataset, device, config["loader_workers"])
    model.train()
    window_start, window_images, window_loss, window_steps = time.perf_counter(), 0, 0.0, 0
    # Whether this attempt saved at all: every rank must call save() alike, and ranks other than 0 get no path.
    last_path, saved = None, False
    try:
        while step < total:
            epoch, first = divmod(step, steps_per_epoch)
            for indices, images in loader.batches(rank_batches(seed, epoch, first, len(dataset), batch_size, world)):
                if distributed.agree_to_stop(stop.requested, world, device):
                    save()
                    raise protocol.StopRequested()
                batch_labels = labels[torch.from_numpy(indices)].to(device) if labels is not None else None
                with precision.autocast():
                    loss = loss_of(images.to(device, non_blocking=True), batch_labels, step_generator(seed, step, world.rank))
                if not torch.isfinite(loss):
                    raise RuntimeError(f"loss is {loss.item()} at step {step}")
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                lr = scheduler.get_last_lr()[0]
                scheduler.step()
                step += 1
                window_images += len(indices) * world.size
                window_loss += loss.item()
                window_steps += 1
                if step % config["log_every_steps"] == 0 or step == total:
                    elapsed = time.perf_counter() - window_start
                    loss_mean = distributed.mean_over_ranks(window_loss / window_steps, world, device)
                    protocol.progress(stage, epoch, step, total, loss_mean, lr, window_images / elapsed)
                    window_start, window_images, window_loss, window_steps = time.perf_counter(), 0, 0.0, 0
                if step % config["checkpoint_every_steps"] == 0 or step == total:
                    last_path, saved = save(), True
                if step == total:
                    break
        return last_path if saved else save()
    finally:
        loader.close()
