"""The trainer decodes what the embedder decodes (PNG, JPEG, WebP, within the pixel cap) and nothing else."""
import io
import struct
import tarfile
import zlib

import numpy as np
import pytest
from PIL import Image

from septtrainer.data import MAX_PIXELS, ShardDataset


def encoded(image, fmt):
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def png_claiming(width, height):
    """A PNG whose header states width x height over a few bytes of data: a decompression bomb's header."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def dataset(tmp_path, members):
    path = tmp_path / "shard.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return ShardDataset([str(path)], "config.train_shards", image_size=28, channels=1)


def test_decodes_the_embedders_formats_and_refuses_every_other(tmp_path):
    gray = Image.fromarray(np.full((28, 28), 90, dtype=np.uint8))
    accepted = {f"ok-{fmt}.png": encoded(gray, fmt) for fmt in ("PNG", "JPEG", "WEBP")}
    # Formats Pillow reads but the embedder does not, stored under an image extension.
    refused = {f"no-{fmt}.png": encoded(gray, fmt) for fmt in ("GIF", "BMP", "TIFF", "PPM")}
    data = dataset(tmp_path, [*accepted.items(), *refused.items()])
    for index, sample in enumerate(data.samples):
        if sample.id.split("/")[-1].startswith("ok-"):
            assert data.decode(index).shape == (1, 28, 28)
        else:
            with pytest.raises(RuntimeError, match=rf"cannot decode image of sample {sample.id}: cannot identify image file"):
                data.decode(index)


def test_refuses_images_over_the_pixel_cap_before_decoding_them(tmp_path):
    side = int(MAX_PIXELS ** 0.5) + 1
    strip = Image.new("L", (1, 100_000))  # 100,000 pixels stored, 28 x 2,800,000 once resized
    data = dataset(tmp_path, [("a-bomb.png", png_claiming(side, side)), ("b-strip.png", encoded(strip, "PNG"))])
    for index in range(2):
        with pytest.raises(RuntimeError, match=r"cannot decode image of sample .*(pixel limit|decompression bomb)"):
            data.decode(index)
