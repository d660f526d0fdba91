"""Encoders: the backbones whose pooled output is the embedding (what export writes to ONNX)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import checkpoint, protocol


class CNNEncoder(nn.Module):
    """A small conv net for 28x28 images; global average pooling makes it size-agnostic.

    The last block ends at its BatchNorm, without a ReLU: pooled post-ReLU features are all
    non-negative, so every pair of images has a cosine similarity near 1, and retrieval (and the
    leakage guard's near-duplicate threshold) could not tell images apart.
    """

    def __init__(self, channels):
        super().__init__()
        layers, width_in = [], channels
        for width, stride in ((32, 1), (64, 2), (128, 2), (128, 1)):
            layers += [nn.Conv2d(width_in, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            width_in = width
        self.features = nn.Sequential(*layers[:-1])
        self.dim = width_in

    def forward(self, images):
        return self.features(images).mean(dim=(2, 3))


class Block(nn.Module):
    """Pre-norm transformer block; written out (not nn.TransformerEncoderLayer) so ONNX export is plain."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        n, length, dim = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(n, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, length, dim)
        x = x + self.proj(attended)
        return x + self.mlp(self.norm2(x))


class ViTEncoder(nn.Module):
    """A small ViT; the embedding is the mean of the final patch tokens (no class token, as MAE's global pool)."""

    def __init__(self, image_size, channels, patch_size, dim, depth, heads):
        super().__init__()
        self.patch_size = patch_size
        self.num_patches = (image_size // patch_size) ** 2
        self.patch_embed = nn.Conv2d(channels, dim, patch_size, patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.dim = dim

    def embed_patches(self, images):
        return self.patch_embed(images).flatten(2).transpose(1, 2) + self.pos_embed

    def encode_tokens(self, tokens):
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward(self, images):
        return self.encode_tokens(self.embed_patches(images)).mean(dim=1)


def architecture(config):
    """What it takes to rebuild the encoder and feed it; stored in every checkpoint."""
    arch = {key: config[key] for key in ("model", "image_size", "channels", "mean", "std")}
    if config["model"] == "vit_tiny":
        arch["vit"] = dict(config["vit"])
    return arch


def build_encoder(arch):
    if arch["model"] == "cnn_small":
        return CNNEncoder(arch["channels"])
    return ViTEncoder(arch["image_size"], arch["channels"], **arch["vit"])


def checkpoint_encoder(state):
    """The encoder a Checkpoint holds, rebuilt from the architecture it records."""
    encoder = build_encoder(state.architecture)
    encoder.load_state_dict(state.encoder_weights())
    return encoder


def initial_encoder(config, arch):
    """A fresh encoder, or the one of config.init_checkpoint (which must match the architecture)."""
    if not config["init_checkpoint"]:
        return build_encoder(arch)
    encoder = checkpoint_encoder(checkpoint.read_init(config, arch))
    protocol.log(f"encoder initialized from {config['init_checkpoint']}")
    return encoder
