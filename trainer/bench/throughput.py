"""Pretraining throughput of each method on synthetic 28x28 shards.

Run with the trainer's python from trainer/:  python bench/throughput.py [--threads 2] [--batch-size 256]
Prints one progress line per method on stderr and the figures as one JSON object on the last line.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

TRAINER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TRAINER, "tests"))
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        shard = write_shard(os.path.join(workdir, "pool.tar"), "bench", args.batch_size * 4, seed=7, labeled=False)
        figures = {"threads": args.threads, "batch_size": args.batch_size}
        for name, setup in SETUPS.items():
            figures[f"{name}_images_per_s"] = round(measure(workdir, shard, setup, args.threads, args.batch_size, args.steps), 1)
            print(f"{name}: {figures[f'{name}_images_per_s']} images/s", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
