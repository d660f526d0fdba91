"""Mixed precision and memory layout on CUDA; CPU runs stay float32 and NCHW.

bf16 autocast where the GPU has bf16 (Ampere and later): its exponent range is float32's, so no loss
scaling is needed. fp16 with a GradScaler on older GPUs. Convolutional encoders run channels-last,
the layout that cuDNN's tensor-core kernels take without converting.
"""
import torch


class Precision:
    def __init__(self, device):
        self.device_type = device.type
        self.dtype = None
        if device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        # Disabled, it passes the loss through and saves an empty state (what checkpoints then hold).
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)

    def autocast(self):
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None)


def place(model, device):
    """The model on the device, its encoder's parameters in the encoder's preferred layout on CUDA."""
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=model.encoder.memory_format)
    return model
