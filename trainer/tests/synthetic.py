"""Tiny WebDataset shards of an easy 10-class task: oriented gratings (5 orientations x 2 frequencies)."""
import io
import json
import tarfile

import numpy as np
from PIL import Image


def grating(label, rng, size=28):
    angle = np.pi * (label % 5) / 5 + rng.normal(0, 0.05)
    frequency = (2.5 if label < 5 else 5.0) * 2 * np.pi / size
    y, x = np.mgrid[0:size, 0:size]
    wave = np.sin(frequency * (x * np.cos(angle) + y * np.sin(angle)) + rng.uniform(0, 2 * np.pi))
    pixels = 0.5 + 0.4 * wave + rng.normal(0, 0.1, (size, size))
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8), mode="L")


def write_shard(path, source, count, seed, labeled=True, size=28, channels=1, image_format="PNG"):
    """`count` images of size x size (RGB: a grating per channel), as PNG or JPEG."""
    rng = np.random.default_rng(seed)
    extension = {"PNG": "png", "JPEG": "jpg"}[image_format]
    with tarfile.open(path, "w:gz" if path.endswith(".gz") else "w") as tar:
        for i in range(count):
            label = int(rng.integers(0, 10))
            key = f"{seed:03d}{i:05d}"
            planes = [grating(label, rng, size) for _ in range(channels)]
            encoded = io.BytesIO()
            (planes[0] if channels == 1 else Image.merge("RGB", planes)).save(encoded, format=image_format)
            meta = json.dumps({"id": f"{source}/{key}", "label": label if labeled else None}).encode()
            for name, data in ((f"{key}.{extension}", encoded.getvalue()), (f"{key}.json", meta)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return str(path)
