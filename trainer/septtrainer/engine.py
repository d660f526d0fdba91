"""The training loop shared by pretrain and finetune: data order, steps, checkpoints, stop on SIGTERM."""
import math
import time

import torch

from . import checkpoint, protocol
from .data import BatchLoader, epoch_order, epoch_seed, step_generator


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


def train(stage, config, model, dataset, labels, device, architecture, resume_state, stop):
    """Trains model.loss over the dataset and returns the final checkpoint's path."""
    batch_size, seed = config["batch_size"], config["seed"]
    steps_per_epoch = len(dataset) // batch_size
    total = total_steps(config, steps_per_epoch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total, config["warmup_steps"]))
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    step = 0
    if resume_state is not None:
        model.load_state_dict(resume_state.model)
        optimizer.load_state_dict(resume_state.optimizer)
        scheduler.load_state_dict(resume_state.scheduler)
        scaler.load_state_dict(resume_state.scaler)
        checkpoint.restore_rng_states(resume_state.rng)
        step = resume_state.step
        protocol.log(f"resumed at step {step} (epoch {resume_state.epoch}, step {resume_state.step_in_epoch} of it)")

    def save():
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
        return path

    loader = BatchLoader(dataset, torch.get_num_threads())
    model.train()
    window_start, window_images, window_loss, window_steps = time.perf_counter(), 0, 0.0, 0
    last_path = None
    try:
        while step < total:
            epoch, first = divmod(step, steps_per_epoch)
            order = epoch_order(seed, epoch, len(dataset))
            index_batches = (order[i * batch_size:(i + 1) * batch_size] for i in range(first, steps_per_epoch))
            for indices, images in loader.batches(index_batches):
                if stop.requested:
                    save()
                    raise protocol.StopRequested()
                batch_labels = labels[torch.from_numpy(indices)].to(device) if labels is not None else None
                with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                    loss = model.loss(images.to(device, non_blocking=True), batch_labels, step_generator(seed, step))
                if not torch.isfinite(loss):
                    raise RuntimeError(f"loss is {loss.item()} at step {step}")
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                lr = scheduler.get_last_lr()[0]
                scheduler.step()
                step += 1
                window_images += len(indices)
                window_loss += loss.item()
                window_steps += 1
                if step % config["log_every_steps"] == 0 or step == total:
                    elapsed = time.perf_counter() - window_start
                    protocol.progress(stage, epoch, step, total, window_loss / window_steps, lr, window_images / elapsed)
                    window_start, window_images, window_loss, window_steps = time.perf_counter(), 0, 0.0, 0
                if step % config["checkpoint_every_steps"] == 0 or step == total:
                    last_path = save()
                if step == total:
                    break
        return last_path or save()
    finally:
        loader.close()
