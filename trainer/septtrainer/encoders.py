"""Encoders: the backbones whose pooled output is the embedding (what export writes to ONNX).

Each has `dim` (the embedding width) and `memory_format` (channels-last for convnets, which cuDNN
runs faster in NHWC on CUDA). ViTs also have what MAE needs: `patch_size`, `num_patches`,
`num_prefix_tokens`, `embed_patches` (patch tokens plus positions) and `encode_tokens` (prefix
tokens, blocks, final norm).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import backbones, checkpoint, protocol
from .config import ConfigError


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
        self.memory_format = torch.channels_last

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
        self.num_prefix_tokens = 0
        self.memory_format = torch.contiguous_format

    def embed_patches(self, images):
        return self.patch_embed(images).flatten(2).transpose(1, 2) + self.pos_embed

    def encode_tokens(self, tokens):
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward(self, images):
        return self.encode_tokens(self.embed_patches(images)).mean(dim=1)


def sincos_positions(dim, grid, prefix_tokens):
    """facebookresearch/mae's fixed 2D sin-cos positions of a grid x grid of patches in row-major order:
    the first half of each row encodes the column, the second the row; zero rows for the prefix tokens first."""
    frequencies = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))
    rows, columns = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64), indexing="ij")
    angles = [coordinate.reshape(-1, 1) * frequencies for coordinate in (columns, rows)]
    table = torch.cat([part for angle in angles for part in (angle.sin(), angle.cos())], dim=1)
    return torch.cat([torch.zeros(prefix_tokens, dim, dtype=torch.float64), table]).float().unsqueeze(0)


def initialize_linears(module):
    """Xavier-uniform weights and zero biases for every nn.Linear, as MAE does (after the official JAX ViT)."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class TimmEncoder(nn.Module):
    """A timm backbone by name, randomly initialized; its pooled features (no classifier head) are the embedding."""

    def __init__(self, name, channels, **options):
        super().__init__()
        import timm  # only runs that name a timm backbone import it

        self.backbone = timm.create_model(name, pretrained=False, num_classes=0, in_chans=channels, **options)
        self.dim = self.backbone.num_features
        self.memory_format = torch.channels_last

    def forward(self, images):
        return self.backbone(images)


# config.vit's fields as timm's ViT arguments.
TIMM_VIT_ARGS = {"patch_size": "patch_size", "dim": "embed_dim", "depth": "depth", "heads": "num_heads"}


class TimmViT(TimmEncoder):
    """A timm ViT at the config's image size, whose embedding is the mean of its final normalized patch
    tokens (MAE's global pool, as vit_tiny's). config.vit's non-null fields override the name's shape.
    Initialized as facebookresearch/mae initializes its ViT, whatever the method trains it.
    """

    def __init__(self, name, image_size, channels, vit):
        overrides = {TIMM_VIT_ARGS[key]: value for key, value in vit.items() if value is not None}
        super().__init__(name, channels, img_size=image_size, global_pool="avg", fc_norm=False, **overrides)
        patch_embed = self.backbone.patch_embed
        self.patch_size = patch_embed.patch_size[0]
        if image_size % self.patch_size:
            raise ConfigError("config.image_size", f"must be a multiple of {name}'s patch size {self.patch_size}")
        self.grid_size = patch_embed.grid_size[0]
        self.num_patches = patch_embed.num_patches
        self.num_prefix_tokens = self.backbone.num_prefix_tokens
        self.memory_format = torch.contiguous_format
        self._initialize_as_mae()

    def _initialize_as_mae(self):
        vit = self.backbone
        with torch.no_grad():
            vit.pos_embed.copy_(sincos_positions(self.dim, self.grid_size, vit.pos_embed.shape[1] - self.num_patches))
        # The patch embedding as the linear layer it is, not as a convolution.
        weight = vit.patch_embed.proj.weight
        nn.init.xavier_uniform_(weight.view(weight.shape[0], -1))
        for token in (vit.cls_token, vit.reg_token):
            if token is not None:
                nn.init.normal_(token, std=0.02)
        initialize_linears(vit)

    def embed_patches(self, images):
        vit = self.backbone
        return vit.patch_embed(images) + vit.pos_embed[:, -self.num_patches:]

    def encode_tokens(self, tokens):
        """The prefix tokens before the (visible) patch tokens, as timm's own forward puts them, then the blocks."""
        vit = self.backbone
        prefix = [t for t in (vit.cls_token, vit.reg_token) if t is not None]
        if prefix:
            prefix = torch.cat(prefix, dim=1)
            # Empty where timm gives the prefix tokens no position (no_embed_class).
            positions = vit.pos_embed[:, :-self.num_patches]
            prefix = prefix + positions if positions.shape[1] else prefix
            tokens = torch.cat([prefix.expand(len(tokens), -1, -1), tokens], dim=1)
        tokens = vit.norm_pre(tokens)
        for block in vit.blocks:
            tokens = block(tokens)
        return vit.norm(tokens)


def architecture(config):
    """What it takes to rebuild the encoder and feed it; stored in every checkpoint."""
    arch = {key: config[key] for key in ("model", "image_size", "channels", "mean", "std")}
    if backbones.kind(config["model"]) == "vit":
        arch["vit"] = dict(config["vit"])
    return arch


def build_encoder(arch):
    name = arch["model"]
    if name == "cnn_small":
        return CNNEncoder(arch["channels"])
    if name == "vit_tiny":
        return ViTEncoder(arch["image_size"], arch["channels"], **arch["vit"])
    if backbones.kind(name) == "vit":
        return TimmViT(name, arch["image_size"], arch["channels"], arch["vit"])
    return TimmEncoder(name, arch["channels"])


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
