"""Pretraining throughput of each method on synthetic 28x28 shards, and what a GPU's loader must do at 224.

Run with the trainer's python from trainer/:  python bench/throughput.py [--threads 2] [--batch-size 256]
  --loader-only: only the 224x224 loader figures; --model-step-224: also the paper's models' CPU step.
Prints one progress line per measurement on stderr and the figures as one JSON object on the last line.

loader_images_per_s_224 is what one loader worker (one process, one thread) does per second: decode
a 224x224 RGB JPEG and augment it as pre-training does (random resized crop, color jitter), the
whole CPU side of a step. On CUDA the augmentation runs on the GPU (augment.py), so a worker there
only decodes (loader_decode_images_per_s_224): a GPU that trains N images/s needs N / that many
loader workers (config.loader_workers) never to wait for data.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

TRAINER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [TRAINER, os.path.join(TRAINER, "tests")]
from synthetic import write_shard  # noqa: E402

SETUPS = {"simclr_cnn_small": {"method": "simclr", "model": "cnn_small"},
          "mae_vit_tiny": {"method": "mae", "model": "vit_tiny"}}


def measure(workdir, shard, setup, threads, batch_size, steps):
    config = {**setup, "output_dir": os.path.join(workdir, setup["method"]), "train_shards": [shard],
              "batch_size": batch_size, "max_steps": steps, "threads": threads, "log_every_steps": steps // 3,
              "checkpoint_every_steps": 10 * steps}
    path = os.path.join(workdir, f"{setup['method']}.json")
    with open(path, "w") as f:
        json.dump(config, f)
    out = subprocess.run([sys.executable, "-m", "septtrainer", "pretrain", "--config", path], cwd=TRAINER,
                         capture_output=True, text=True, check=True).stdout
    rates = [e["images_per_s"] for e in map(json.loads, out.splitlines()) if e["event"] == "progress"]
    return sum(rates[1:]) / len(rates[1:])  # the first window includes warm-up


def loader_rates(workdir, images, batch_size=32, passes=3):
    """Images/s of one loader worker at 224x224: decode alone, and decode + augment; median of `passes`."""
    import torch

    from septtrainer.augment import color_jitter, random_resized_crop
    from septtrainer.data import ShardDataset

    torch.set_num_threads(1)
    path = write_shard(os.path.join(workdir, "jpeg-224.tar"), "bench", images, seed=11, labeled=False,
                       size=224, channels=3, image_format="JPEG")
    dataset = ShardDataset([path], "bench", 224, 3)
    generator = torch.Generator().manual_seed(0)

    def one_pass(augment):
        started = time.perf_counter()
        for first in range(0, len(dataset), batch_size):
            pixels = [dataset.decode(i) for i in range(first, min(first + batch_size, len(dataset)))]
            batch = torch.from_numpy(np.stack(pixels)).float().div_(255.0)
            if augment:
                color_jitter(random_resized_crop(batch, generator, 0.2, True), generator)
        return len(dataset) / (time.perf_counter() - started)

    one_pass(True)  # warm-up: file cache, allocator
    jpeg_kb = sum(sample.size for sample in dataset.samples) / len(dataset) / 1024
    return {"loader_images_per_s_224": round(statistics.median(one_pass(True) for _ in range(passes)), 1),
            "loader_decode_images_per_s_224": round(statistics.median(one_pass(False) for _ in range(passes)), 1),
            "loader_jpeg_kb_224": round(jpeg_kb, 1)}


def model_step_rates(threads, batch_size=8, steps=2):
    """Images/s of one training step (forward and backward) of the paper's models at 224 on this CPU."""
    import torch

    from septtrainer.config import validate
    from septtrainer.encoders import architecture, build_encoder
    from septtrainer.methods import MAE, SimCLR

    torch.set_num_threads(threads)
    rates = {}
    for name, method, model in (("simclr_resnet50", "simclr", "resnet50"), ("mae_vit_base", "mae", "vit_base_patch16_224")):
        config = validate({"output_dir": "unused", "train_shards": ["unused"], "method": method, "model": model,
                           "image_size": 224, "channels": 3}, "pretrain")
        encoder = build_encoder(architecture(config))
        objective = (SimCLR(encoder, config["simclr"], config["mean"], config["std"]) if method == "simclr"
                     else MAE(encoder, config["mae"], config["mean"], config["std"], 3))
        images, generator = torch.rand(batch_size, 3, 224, 224), torch.Generator().manual_seed(0)
        timings = []
        for _ in range(steps + 1):  # the first step warms up
            started = time.perf_counter()
            objective.loss(images, None, generator).backward()
            timings.append(time.perf_counter() - started)
        rates[f"{name}_step_images_per_s_224"] = round(batch_size / statistics.median(timings[1:]), 2)
    return rates


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--loader-only", action="store_true")
    parser.add_argument("--loader-images", type=int, default=256)
    parser.add_argument("--model-step-224", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        # The loader figures are one thread's, whatever --threads says.
        figures = {} if args.loader_only else {"threads": args.threads, "batch_size": args.batch_size}
        if not args.loader_only:
            shard = write_shard(os.path.join(workdir, "pool.tar"), "bench", args.batch_size * 4, seed=7, labeled=False)
            for name, setup in SETUPS.items():
                figures[f"{name}_images_per_s"] = round(measure(workdir, shard, setup, args.threads, args.batch_size, args.steps), 1)
                print(f"{name}: {figures[f'{name}_images_per_s']} images/s", file=sys.stderr)
        figures.update(loader_rates(workdir, args.loader_images))
        print(f"loader, one worker: {figures['loader_images_per_s_224']} images/s at 224 (decode alone "
              f"{figures['loader_decode_images_per_s_224']})", file=sys.stderr)
        if args.model_step_224:
            figures.update(threads=args.threads, **model_step_rates(args.threads))
            print(f"model steps at 224 on {args.threads} threads: {figures}", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
