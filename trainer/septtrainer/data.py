"""WebDataset shards as an indexed, randomly accessible dataset.

Exact resume needs the data order to be a pure function of (seed, epoch), so the trainer indexes
every sample up front instead of streaming: plain .tar members are read by offset on demand (only
the index is held in memory); .tar.gz cannot be seeked, so its encoded image bytes are held in
memory (prefer plain .tar for large subsets).
"""
import io
import json
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from . import distributed
from .config import ConfigError

IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "webp")
# The formats the embedder decodes (lib/preprocess/sniff.ts) and no others: Pillow's other decoders
# are code that no image septflow selected needs, and that hostile bytes could reach.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")
# The embedder's default pixel cap (SEPT_MAX_PIXELS, lib/input-limits.ts), as stored and as resized.
MAX_PIXELS = 64_000_000
# Pillow warns past this and refuses past twice this, at open, before decoding anything.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True)
class Sample:
    id: str
    label: object  # int or None
    shard: int  # index into ShardDataset.paths
    offset: int  # byte offset of the image in a plain tar, or -1 when `data` holds it
    size: int
    data: bytes = None


def _split_member(name):
    directory, base = os.path.split(name)
    key, _, ext = base.partition(".")
    return os.path.join(directory, key), ext.lower()


def _index_shard(path, shard_index, field):
    in_memory = not path.endswith(".tar")
    images, metas = {}, {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key, ext = _split_member(member.name)
                if ext in IMAGE_EXTENSIONS:
                    data = tar.extractfile(member).read() if in_memory else None
                    images[key] = (member.offset_data, member.size, data)
                elif ext == "json":
                    metas[key] = json.loads(tar.extractfile(member).read())
    except (OSError, tarfile.TarError, ValueError) as err:  # ValueError: a bad .json member
        raise ConfigError(field, f"cannot read shard {path}: {err}") from err
    samples = []
    shard_name = os.path.basename(path).split(".")[0]
    for key in sorted(images):
        offset, size, data = images[key]
        meta = metas.get(key, {})
        samples.append(Sample(
            id=meta.get("id", f"{shard_name}/{key}"), label=meta.get("label"), shard=shard_index,
            offset=-1 if in_memory else offset, size=size, data=data,
        ))
    return samples


class ShardDataset:
    """All samples of a list of shards, decoded on access to float tensors in [0, 1]."""

    def __init__(self, paths, field, image_size, channels):
        self.paths = list(paths)
        self.image_size = image_size
        self.mode = "L" if channels == 1 else "RGB"
        self.samples = []
        for i, path in enumerate(self.paths):
            self.samples.extend(_index_shard(path, i, f"{field}[{i}]"))
        if not self.samples:
            raise ConfigError(field, "the shards hold no images")

    def __len__(self):
        return len(self.samples)

    def labels(self, num_classes, field):
        labels = []
        for sample in self.samples:
            label = sample.label
            if not (isinstance(label, int) and not isinstance(label, bool) and 0 <= label < num_classes):
                raise ConfigError(field, f"sample {sample.id} has label {label!r}; need an int in [0, {num_classes})")
            labels.append(label)
        return torch.tensor(labels, dtype=torch.long)

    def _read(self, sample):
        if sample.data is not None:
            return sample.data
        with open(self.paths[sample.shard], "rb") as f:
            f.seek(sample.offset)
            return f.read(sample.size)

    def __getitem__(self, index):
        return self.decode(index)

    def decode(self, index):
        """Resize the shorter side to image_size, center-crop a square: the export spec's preprocessing."""
        sample = self.samples[index]
        size = self.image_size
        try:
            image = Image.open(io.BytesIO(self._read(sample)), formats=IMAGE_FORMATS)
            w, h = image.size
            # The header is read, nothing decoded yet: refuse sizes the embedder refuses.
            if w * h > MAX_PIXELS or size * round(max(w, h) * size / max(1, min(w, h))) > MAX_PIXELS:
                raise Image.DecompressionBombError(f"{w}x{h} resized to a shorter side of {size} is over the pixel limit {MAX_PIXELS}")
            image = image.convert(self.mode)
        except (OSError, Image.DecompressionBombError) as err:
            raise RuntimeError(f"cannot decode image of sample {sample.id}: {err}") from err
        if (w, h) != (size, size):
            scale = size / min(w, h)
            image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BILINEAR)
            left, top = (image.width - size) // 2, (image.height - size) // 2
            image = image.crop((left, top, left + size, top + size))
        array = np.asarray(image, dtype=np.uint8)
        return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


class BatchLoader:
    """Decodes the next batch in the background while the caller trains on the current one.

    Decoding runs on a thread pool of its own (Pillow releases the GIL); the prefetching thread is
    separate so a batch waiting on decodes never holds a decode worker.
    """

    def __init__(self, dataset, threads):
        self.dataset = dataset
        self.decoders = ThreadPoolExecutor(max_workers=max(1, threads))
        self.prefetcher = ThreadPoolExecutor(max_workers=1)

    def _load(self, indices):
        arrays = list(self.decoders.map(self.dataset.decode, indices))
        return torch.from_numpy(np.stack(arrays)).float().div_(255.0)

    def batches(self, index_batches):
        """Yields (indices, images) for each index batch."""
        pending = None
        for indices in index_batches:
            future = self.prefetcher.submit(self._load, indices)
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = (indices, future)
        if pending is not None:
            yield pending[0], pending[1].result()

    def close(self):
        self.prefetcher.shutdown(wait=True, cancel_futures=True)
        self.decoders.shutdown(wait=True, cancel_futures=True)


# Decoded batches each loader worker keeps ready.
PREFETCH_BATCHES = 2


class WorkerLoader:
    """Decodes batches in worker processes (a torch DataLoader), for GPUs that train faster than the
    threads of one process decode: a core decodes about a thousand small 224x224 JPEGs per second
    (trainer/bench/throughput.py), fewer of larger photos.

    Batches come in the order asked, each decoded exactly as BatchLoader decodes it, so the data
    (and a resume) do not depend on the loader. On CUDA, batches travel as uint8 from pinned memory,
    a quarter of the bytes of floats, and become floats on the GPU.
    """

    def __init__(self, dataset, workers, device):
        self.dataset, self.workers, self.device = dataset, workers, device

    def batches(self, index_batches):
        """Yields (indices, images) for each index batch, images on the device."""
        index_batches = list(index_batches)
        # The workers live as long as this epoch's iterator.
        loader = DataLoader(self.dataset, batch_sampler=index_batches, num_workers=self.workers,
                            pin_memory=self.device.type == "cuda", prefetch_factor=PREFETCH_BATCHES)
        for indices, pixels in zip(index_batches, loader):
            yield indices, pixels.to(self.device, non_blocking=True).float().div_(255.0)

    def close(self):
        """Nothing to release: each epoch's workers stop with its iterator."""


def default_loader_workers():
    """On CUDA without config.loader_workers: this rank's share of the node's cores, less the one that trains."""
    return max(1, distributed.default_threads(distributed.world_from_env()) - 1)


def batch_loader(dataset, device, workers):
    """Decoding threads in this process on CPU (the demo's loader), unless config.loader_workers asks
    for processes; worker processes on CUDA."""
    if workers is None and device.type != "cuda":
        return BatchLoader(dataset, torch.get_num_threads())
    return WorkerLoader(dataset, workers or default_loader_workers(), device)


def training_set(config):
    dataset = ShardDataset(config["train_shards"], "config.train_shards", config["image_size"], config["channels"])
    if config["batch_size"] > len(dataset):
        raise ConfigError("config.batch_size", f"is larger than the {len(dataset)} training samples")
    return dataset


def epoch_seed(seed, epoch):
    return int(np.random.SeedSequence([seed, 0, epoch]).generate_state(1)[0])


def epoch_order(seed, epoch, n):
    """The permutation of one epoch: a function of (seed, epoch) only, never of global RNG state."""
    return np.random.Generator(np.random.PCG64(epoch_seed(seed, epoch))).permutation(n)


def step_generator(seed, step, rank=0):
    """Randomness of one training step (augmentation, masking), so a resumed step redraws it exactly.
    Each rank of a data-parallel run draws its own; rank 0's is the single process's."""
    entropy = [seed, 1, step] + ([rank] if rank else [])
    return torch.Generator().manual_seed(int(np.random.SeedSequence(entropy).generate_state(1)[0]))
