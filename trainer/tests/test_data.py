import io
import json
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from septtrainer.config import ConfigError
from septtrainer.data import BatchLoader, ShardDataset, WorkerLoader, batch_loader, epoch_order


def write_tar(path, members):
    with tarfile.open(path, "w:gz" if str(path).endswith(".gz") else "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def encoded(image, fmt):
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz"])
def test_samples_are_indexed_by_key_with_their_metadata(tmp_path, suffix):
    rgb = Image.fromarray(np.full((32, 40, 3), 200, dtype=np.uint8))
    path = write_tar(tmp_path / f"s{suffix}", [
        ("b/0002.jpg", encoded(rgb, "JPEG")),
        ("b/0002.json", json.dumps({"id": "pool/0002", "label": None}).encode()),
        ("a/0001.png", encoded(Image.new("L", (28, 28), 10), "PNG")),
        ("a/0001.json", json.dumps({"id": "pool/0001", "label": 7}).encode()),
        ("README.txt", b"not a sample"),
    ])
    dataset = ShardDataset([path], "config.train_shards", image_size=28, channels=3)
    assert [(s.id, s.label) for s in dataset.samples] == [("pool/0001", 7), ("pool/0002", None)]
    assert dataset.decode(0).shape == (3, 28, 28)
    resized = dataset.decode(1)  # 40x32 JPEG: shorter side to 28, center crop
    assert resized.shape == (3, 28, 28) and abs(int(resized.mean()) - 200) <= 2
    with pytest.raises(ConfigError, match=r"config.test_shards: sample pool/0002 has label None"):
        dataset.labels(10, "config.test_shards")


def test_a_corrupt_shard_is_named(tmp_path):
    path = tmp_path / "broken.tar"
    path.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(ConfigError, match=r"config.train_shards\[0\]: cannot read shard"):
        ShardDataset([str(path)], "config.train_shards", 28, 1)


def test_epoch_order_depends_on_seed_and_epoch_only():
    np.random.seed(1)
    first = epoch_order(5, 3, 100)
    np.random.rand(1000)  # consuming global random state must not change the order
    assert (epoch_order(5, 3, 100) == first).all()
    assert not (epoch_order(5, 4, 100) == first).all()
    assert sorted(first) == list(range(100))


def test_worker_processes_load_the_same_batches_as_decoding_threads(shards):
    dataset = ShardDataset(shards["small"], "config.train_shards", 28, 1)
    order = epoch_order(3, 0, len(dataset))
    index_batches = [order[i:i + 32] for i in range(0, 128, 32)]
    cpu = torch.device("cpu")
    threads = batch_loader(dataset, cpu, None)
    assert isinstance(threads, BatchLoader) and isinstance(batch_loader(dataset, cpu, 2), WorkerLoader)
    try:
        expected = list(threads.batches(index_batches))
    finally:
        threads.close()
    for _ in range(2):  # and again: the same batches every time
        loaded = list(WorkerLoader(dataset, 2, cpu).batches(index_batches))
        assert len(loaded) == len(expected)
        for (indices, images), (want_indices, want_images) in zip(loaded, expected):
            assert (indices == want_indices).all() and images.dtype == torch.float32
            assert torch.equal(images, want_images)
