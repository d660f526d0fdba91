"""Training objectives around an encoder: SimCLR and MAE (self-supervised), and the supervised classifier.

Each takes raw [0, 1] images and the step's generator and returns the loss, so the engine's loop
is the same for every stage and a resumed step redraws the same views and masks.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .augment import color_jitter, normalize, random_resized_crop
from .encoders import Block


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
        z = F.normalize(self.projector(self.encoder(views)), dim=1)
        return nt_xent(z, self.settings["temperature"])


class MAE(nn.Module):
    """Masked autoencoder: the ViT encoder sees only the visible patches; a light decoder fills in the rest."""

    def __init__(self, encoder, settings, mean, std, channels):
        super().__init__()
        self.encoder = encoder
        dim = settings["decoder_dim"]
        heads = dim // 32 if dim % 32 == 0 else 1
        self.decoder_embed = nn.Linear(encoder.dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, encoder.num_patches, dim))
        nn.init.normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.decoder_pos_embed, std=0.02)
        self.decoder_blocks = nn.ModuleList(Block(dim, heads) for _ in range(settings["decoder_depth"]))
        self.decoder_norm = nn.LayerNorm(dim)
        self.decoder_pred = nn.Linear(dim, encoder.patch_size**2 * channels)
        self.settings, self.mean, self.std = settings, mean, std

    def _patchify(self, images):
        n, c, h, w = images.shape
        p = self.encoder.patch_size
        patches = images.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return patches.reshape(n, (h // p) * (w // p), p * p * c)

    def loss(self, images, labels, generator):
        images = random_resized_crop(images, generator, self.settings["crop_scale_min"], self.settings["hflip"])
        images = normalize(images, self.mean, self.std)
        tokens = self.encoder.embed_patches(images)
        n, length, dim = tokens.shape
        keep = max(1, int(length * (1 - self.settings["mask_ratio"])))
        noise = torch.rand(n, length, generator=generator).to(tokens.device)
        shuffle = noise.argsort(dim=1)
        restore = shuffle.argsort(dim=1)
        visible = tokens.gather(1, shuffle[:, :keep, None].expand(-1, -1, dim))
        latent = self.decoder_embed(self.encoder.encode_tokens(visible))
        filled = torch.cat([latent, self.mask_token.expand(n, length - keep, -1)], dim=1)
        decoded = filled.gather(1, restore[..., None].expand(-1, -1, filled.shape[2])) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            decoded = block(decoded)
        prediction = self.decoder_pred(self.decoder_norm(decoded))

        target = self._patchify(images)
        if self.settings["norm_pix_loss"]:
            target = (target - target.mean(dim=-1, keepdim=True)) / (target.var(dim=-1, keepdim=True) + 1e-6).sqrt()
        masked = torch.ones(n, length, device=tokens.device)
        masked[:, :keep] = 0
        masked = masked.gather(1, restore)
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
