"""Batched image augmentation with an explicit generator.

Parameters are drawn on the CPU from the step's generator and applied with one grid_sample on the
training device, so augmentation is fast on a GPU and identical after a resume.
"""
import math

import torch
import torch.nn.functional as F


def random_resized_crop(images, generator, scale_min, hflip):
    """Crops a random area fraction in [scale_min, 1] with aspect ratio in [3/4, 4/3], resized back."""
    n = images.shape[0]
    area = torch.empty(n).uniform_(scale_min, 1.0, generator=generator)
    log_ratio = torch.empty(n).uniform_(math.log(3 / 4), math.log(4 / 3), generator=generator)
    ratio = log_ratio.exp()
    width = (area * ratio).sqrt().clamp(max=1.0)
    height = (area / ratio).sqrt().clamp(max=1.0)
    center_x = (torch.rand(n, generator=generator) * 2 - 1) * (1 - width)
    center_y = (torch.rand(n, generator=generator) * 2 - 1) * (1 - height)
    flip = torch.ones(n)
    if hflip:
        flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = width * flip
    theta[:, 0, 2] = center_x
    theta[:, 1, 1] = height
    theta[:, 1, 2] = center_y
    theta = theta.to(images.device, images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def color_jitter(images, generator, strength=0.4):
    """Random brightness and contrast per image; works for grayscale and RGB alike."""
    n = images.shape[0]
    contrast = torch.empty(n, 1, 1, 1).uniform_(1 - strength, 1 + strength, generator=generator)
    brightness = torch.empty(n, 1, 1, 1).uniform_(-strength / 2, strength / 2, generator=generator)
    contrast, brightness = contrast.to(images.device), brightness.to(images.device)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return ((images - mean) * contrast + mean + brightness).clamp(0.0, 1.0)


def normalize(images, mean, std):
    mean = torch.tensor(mean, device=images.device).view(1, -1, 1, 1)
    std = torch.tensor(std, device=images.device).view(1, -1, 1, 1)
    return (images - mean) / std
