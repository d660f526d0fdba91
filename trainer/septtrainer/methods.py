"""Training objectives around an encoder: SimCLR and MAE (self-supervised), and the supervised classifier.

Each takes raw [0, 1] images and the step's generator and returns the loss, so the engine's loop
is the same for every stage and a resumed step redraws the same views and masks.
"""
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

from .augment import color_jitter, normalize, random_resized_crop
from .distributed import all_rows
from .encoders import Block, TimmViT, initialize_linears, sincos_positions


def nt_xent(z, temperature):
    """NT-Xent over 2N L2-normalized projections where rows i and i+N are two views of one image."""
    n = z.shape[0] // 2
    similarity = (z @ z.T) / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    similarity = similarity.masked_fill(self_mask, float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(similarity.float(), targets)


class SimCLR(nn.Module):
    def __init__(self, encoder, settings, mean, std):
        super().__init__()
        self.encoder = encoder
        self.projector = nn.Sequential(
            nn.Linear(encoder.dim, encoder.dim), nn.ReLU(inplace=True), nn.Linear(encoder.dim, settings["projection_dim"])
        )
        self.settings, self.mean, self.std = settings, mean, std

    def _view(self, images, generator):
        views = random_resized_crop(images, generator, self.settings["crop_scale_min"], self.settings["hflip"])
        return normalize(color_jitter(views, generator), self.mean, self.std)

    def loss(self, images, labels, generator):
        views = torch.cat([self._view(images, generator), self._view(images, generator)])
        first, second = F.normalize(self.projector(self.encoder(views)), dim=1).chunk(2)
        # Data-parallel ranks contrast against the global batch's views, as one process does.
        return nt_xent(torch.cat([all_rows(first), all_rows(second)]), self.settings["temperature"])


def paper_decoder_block(dim, heads):
    """A decoder block as facebookresearch/mae builds it: timm's ViT Block, MLP ratio 4, qkv bias, LayerNorm eps 1e-6."""
    from timm.models.vision_transformer import Block as TimmBlock

    return TimmBlock(dim, heads, mlp_ratio=4.0, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6))


class MAE(nn.Module):
    """Masked autoencoder: the ViT encoder sees only the visible patches (and its prefix tokens); a light decoder fills in the rest.

    Around a timm ViT it is facebookresearch/mae's: fixed 2D sin-cos positions in encoder and decoder,
    a decoder of timm Blocks (config.mae: 512 wide, 8 deep by default) with xavier-initialized
    linears. Around vit_tiny the decoder keeps the CPU demo's learned positions and plain blocks, so
    those runs compute what they always did.
    """

    def __init__(self, encoder, settings, mean, std, channels):
        super().__init__()
        self.encoder = encoder
        dim = settings["decoder_dim"]
        heads = dim // 32 if dim % 32 == 0 else 1
        paper = isinstance(encoder, TimmViT)
        self.decoder_embed = nn.Linear(encoder.dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, encoder.num_prefix_tokens + encoder.num_patches, dim))
        nn.init.normal_(self.mask_token, std=0.02)
        if not paper:
            nn.init.trunc_normal_(self.decoder_pos_embed, std=0.02)
        block = paper_decoder_block if paper else Block
        self.decoder_blocks = nn.ModuleList(block(dim, heads) for _ in range(settings["decoder_depth"]))
        self.decoder_norm = nn.LayerNorm(dim, eps=1e-6 if paper else 1e-5)
        self.decoder_pred = nn.Linear(dim, encoder.patch_size**2 * channels)
        if paper:
            encoder.backbone.pos_embed.requires_grad_(False)
            with torch.no_grad():
                self.decoder_pos_embed.copy_(sincos_positions(dim, encoder.grid_size, encoder.num_prefix_tokens))
            self.decoder_pos_embed.requires_grad_(False)
            for part in (self.decoder_embed, self.decoder_blocks, self.decoder_pred):
                initialize_linears(part)
        self.settings, self.mean, self.std = settings, mean, std

    def _patchify(self, images):
        n, c, h, w = images.shape
        p = self.encoder.patch_size
        patches = images.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return patches.reshape(n, (h // p) * (w // p), p * p * c)

    def random_masking(self, n, length, generator):
        """Per image, a random order of its patches (from the step's generator): the first `keep` are
        visible. Returns (keep, shuffle, restore, masked), `masked` 1 where a patch is hidden, in patch order."""
        keep = max(1, int(length * (1 - self.settings["mask_ratio"])))
        shuffle = torch.rand(n, length, generator=generator).argsort(dim=1)
        restore = shuffle.argsort(dim=1)
        masked = torch.ones(n, length)
        masked[:, :keep] = 0
        return keep, shuffle, restore, masked.gather(1, restore)

    def reconstruct(self, images, generator):
        """(prediction, target, masked) for normalized images: every patch's predicted and true pixels
        (per-patch normalized under norm_pix_loss), and which patches the encoder did not see."""
        tokens = self.encoder.embed_patches(images)
        n, length, dim = tokens.shape
        keep, shuffle, restore, masked = self.random_masking(n, length, generator)
        shuffle, restore, masked = shuffle.to(tokens.device), restore.to(tokens.device), masked.to(tokens.device)
        visible = tokens.gather(1, shuffle[:, :keep, None].expand(-1, -1, dim))
        latent = self.decoder_embed(self.encoder.encode_tokens(visible))
        prefix = self.encoder.num_prefix_tokens
        filled = torch.cat([latent[:, prefix:], self.mask_token.expand(n, length - keep, -1)], dim=1)
        filled = filled.gather(1, restore[..., None].expand(-1, -1, filled.shape[2]))
        decoded = torch.cat([latent[:, :prefix], filled], dim=1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            decoded = block(decoded)
        prediction = self.decoder_pred(self.decoder_norm(decoded))[:, prefix:]

        target = self._patchify(images)
        if self.settings["norm_pix_loss"]:
            target = (target - target.mean(dim=-1, keepdim=True)) / (target.var(dim=-1, keepdim=True) + 1e-6).sqrt()
        return prediction, target, masked

    def loss(self, images, labels, generator):
        images = random_resized_crop(images, generator, self.settings["crop_scale_min"], self.settings["hflip"])
        prediction, target, masked = self.reconstruct(normalize(images, self.mean, self.std), generator)
        per_patch = ((prediction.float() - target) ** 2).mean(dim=-1)
        return (per_patch * masked).sum() / masked.sum()


class Classifier(nn.Module):
    def __init__(self, encoder, num_classes, settings, mean, std):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.dim, num_classes)
        self.settings, self.mean, self.std = settings, mean, std

    def forward(self, normalized_images):
        return self.head(self.encoder(normalized_images))

    def loss(self, images, labels, generator):
        images = random_resized_crop(images, generator, self.settings["crop_scale_min"], self.settings["hflip"])
        return F.cross_entropy(self(normalize(images, self.mean, self.std)), labels)
