"""Stage export: the encoder to ONNX (dynamic batch) plus the preprocessing spec that feeds it.

The spec is what septflow's embedding code reads to preprocess pool images exactly as the encoder
saw them in training: resize the shorter side to `size`, center-crop `crop`, scale pixels to [0, 1],
subtract `mean` and divide by `std` per channel, then L2-normalize the output embedding.
"""
import os

import numpy as np
import torch

from . import atomic, checkpoint, protocol
from .encoders import architecture, checkpoint_encoder

INPUT_NAME = "images"
OUTPUT_NAME = "embedding"
TOLERANCE = 1e-4


def verify(path, encoder, arch):
    """Max abs difference between onnxruntime and torch on a batch size the export never saw."""
    import onnxruntime

    images = torch.randn(3, arch["channels"], arch["image_size"], arch["image_size"], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = encoder(images).numpy()
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    actual = session.run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})[0]
    return float(np.abs(actual - expected).max())


def run(config, device, resume_state, stop):
    arch = architecture(config)
    encoder = checkpoint_encoder(checkpoint.read_init(config, arch))
    encoder.eval()  # export on CPU in float32: the artifact must not depend on the training device

    onnx_path = os.path.join(config["output_dir"], "encoder.onnx")
    spec_path = os.path.join(config["output_dir"], "encoder.json")
    example = torch.zeros(2, arch["channels"], arch["image_size"], arch["image_size"])

    def write_onnx(path):
        program = torch.onnx.export(
            encoder, (example,), dynamo=True, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch")},), external_data=False,
        )
        program.save(path, external_data=False)

    atomic.write(onnx_path, write_onnx)
    difference = verify(onnx_path, encoder, arch)
    if difference > TOLERANCE:
        raise RuntimeError(f"ONNX output differs from torch by {difference} (> {TOLERANCE})")
    protocol.log(f"exported {onnx_path}; max abs difference to torch {difference:.2e}")

    spec = {
        "input_name": INPUT_NAME, "output_name": OUTPUT_NAME, "layout": "NCHW", "channels": arch["channels"],
        "size": arch["image_size"], "crop": arch["image_size"], "mean": arch["mean"], "std": arch["std"],
        "l2_normalize": True, "dim": encoder.dim,
    }
    atomic.write_json(spec_path, spec)
    protocol.metrics("export", {"onnx_max_abs_diff": difference})
    protocol.artifact("onnx_encoder", onnx_path)
    protocol.artifact("preprocess_spec", spec_path)
