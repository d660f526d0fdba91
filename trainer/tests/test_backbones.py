"""The paper's backbones by name from timm, and MAE as facebookresearch/mae builds it, at tiny sizes."""
import json
import os
import re

import numpy as np
import pytest
import torch

from conftest import run_trainer, write_config
from septtrainer import checkpoint
from septtrainer.backbones import PAPER
from septtrainer.config import ConfigError, validate
from septtrainer.encoders import architecture, build_encoder, sincos_positions
from septtrainer.methods import MAE

BASE = {"output_dir": "/tmp/out", "train_shards": ["a.tar"], "channels": 3}
# A tiny ViT shape for any timm ViT name: the same code path as the paper's, at a CPU test's cost.
TINY_VIT = {"image_size": 32, "vit": {"patch_size": 8, "depth": 1}}
EMBEDDING_DIM = {"resnet50": 2048, "vit_small_patch16_224": 384, "vit_base_patch16_224": 768}


def encoder_for(**fields):
    config = validate({**BASE, **fields}, "pretrain")
    return config, build_encoder(architecture(config))


@pytest.mark.parametrize("name", PAPER)
def test_each_paper_backbone_builds_and_trains_one_step(name):
    torch.manual_seed(0)
    # The named shape itself (width, depth); only the image is small.
    _, encoder = encoder_for(model=name, image_size=32)
    assert encoder.dim == EMBEDDING_DIM[name]
    embedding = encoder(torch.rand(2, 3, 32, 32))
    assert embedding.shape == (2, EMBEDDING_DIM[name]) and torch.isfinite(embedding).all()
    embedding.square().mean().backward()
    assert all(p.grad is not None for p in encoder.parameters() if p.requires_grad)


def test_an_unknown_backbone_is_a_config_error_naming_the_field():
    with pytest.raises(ConfigError, match=re.escape("config.model: unknown backbone 'resnet5O'")):
        validate({**BASE, "model": "resnet5O"}, "pretrain")


def test_mae_needs_a_vit():
    with pytest.raises(ConfigError, match=re.escape("config.model: method mae needs model vit_tiny or a timm ViT")):
        validate({**BASE, "model": "resnet50", "method": "mae"}, "pretrain")


def test_a_vit_patch_that_does_not_divide_the_image_is_refused_before_training():
    with pytest.raises(ConfigError, match=re.escape("config.image_size: must be a multiple of vit_small_patch16_224's patch size 16")):
        encoder_for(model="vit_small_patch16_224", image_size=40)


def test_mae_of_a_timm_vit_has_the_papers_decoder_and_fixed_positions():
    torch.manual_seed(0)
    config, encoder = encoder_for(model="vit_base_patch16_224", method="mae", **TINY_VIT)
    assert config["mae"]["decoder_dim"] == 512 and config["mae"]["decoder_depth"] == 8 and config["mae"]["mask_ratio"] == 0.75
    mae = MAE(encoder, config["mae"], config["mean"], config["std"], config["channels"])
    assert len(mae.decoder_blocks) == 8 and mae.decoder_embed.out_features == 512
    assert type(mae.decoder_blocks[0]).__module__ == "timm.models.vision_transformer"
    assert mae.decoder_blocks[0].attn.num_heads == 16
    # 4x4 patches of 8x8 pixels behind one class token, in encoder and decoder alike.
    assert not mae.decoder_pos_embed.requires_grad and not encoder.backbone.pos_embed.requires_grad
    assert torch.equal(mae.decoder_pos_embed, sincos_positions(512, 4, 1))

    prediction, target, masked = mae.reconstruct(torch.randn(2, 3, 32, 32), torch.Generator().manual_seed(1))
    assert prediction.shape == target.shape == (2, 16, 8 * 8 * 3)
    assert masked.shape == (2, 16) and (masked.sum(dim=1) == 12).all()
    # norm_pix_loss: every target patch has zero mean and unit variance.
    assert torch.allclose(target.mean(dim=-1), torch.zeros(2, 16), atol=1e-5)
    loss = mae.loss(torch.rand(2, 3, 32, 32), None, torch.Generator().manual_seed(2))
    assert loss.shape == () and torch.isfinite(loss)
    loss.backward()
    assert mae.decoder_pred.weight.grad is not None and encoder.backbone.blocks[0].attn.qkv.weight.grad is not None


def test_mae_masks_the_papers_three_quarters_of_196_patches():
    # vit_tiny at 224 with patch 16 has ViT-B/16's 14x14 grid; the masking is the same code for every ViT.
    config, encoder = encoder_for(model="vit_tiny", method="mae", image_size=224, vit={"patch_size": 16, "dim": 16, "depth": 1, "heads": 1})
    mae = MAE(encoder, config["mae"], config["mean"], config["std"], config["channels"])
    keep, shuffle, restore, masked = mae.random_masking(3, 196, torch.Generator().manual_seed(0))
    assert keep == 49 and (masked.sum(dim=1) == 147).all()
    # The visible patches are the first `keep` of each shuffle; restore undoes the shuffle.
    assert (masked.gather(1, shuffle[:, :keep]) == 0).all() and (masked.gather(1, shuffle[:, keep:]) == 1).all()
    assert (shuffle.gather(1, restore) == torch.arange(196)).all()


def mae_reference_positions(dim, grid):
    """facebookresearch/mae's util/pos_embed.get_2d_sincos_pos_embed(dim, grid, cls_token=True), in numpy."""
    def one_axis(positions):
        omega = 1.0 / 10000 ** (np.arange(dim // 4, dtype=np.float64) / (dim / 4))
        angles = np.einsum("m,d->md", positions.reshape(-1), omega)
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    grid_xy = np.stack(np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64)))
    table = np.concatenate([one_axis(grid_xy[0]), one_axis(grid_xy[1])], axis=1)
    return np.concatenate([np.zeros([1, dim]), table])


def test_sincos_positions_are_maes():
    ours = sincos_positions(64, 5, 1)[0].double().numpy()
    assert np.abs(ours - mae_reference_positions(64, 5)).max() < 1e-6


def test_mae_on_a_timm_vit_pretrains_through_the_trainer(tmp_path, shards):
    # 28x28 grayscale shards: patch 7 gives a 4x4 grid; loader workers exercise the process loader.
    path = write_config(tmp_path, "pretrain", output_dir=str(tmp_path), train_shards=shards["small"], batch_size=16,
                        max_steps=2, loader_workers=2, model="vit_small_patch16_224", method="mae",
                        vit={"patch_size": 7, "dim": 32, "depth": 1, "heads": 2}, mae={"decoder_dim": 32, "decoder_depth": 1})
    code, events, err = run_trainer("pretrain", path)
    assert code == 0, err
    state = checkpoint.read(events[-1]["path"])
    assert state.architecture["model"] == "vit_small_patch16_224" and state.step == 2
    assert state.config["mae"]["decoder_dim"] == 32


def test_the_gpu_example_is_the_papers_mae_vit_b():
    with open(os.path.join(os.path.dirname(__file__), "..", "examples", "pretrain-mae-vit-b.json")) as f:
        config = validate(json.load(f), "pretrain")
    assert (config["model"], config["image_size"], config["mae"]["mask_ratio"]) == ("vit_base_patch16_224", 224, 0.75)
    assert (config["mae"]["decoder_dim"], config["mae"]["decoder_depth"], config["mae"]["norm_pix_loss"]) == (512, 8, True)


def test_a_timm_vit_width_must_split_into_sin_cos_positions():
    with pytest.raises(ConfigError, match=re.escape("config.mae.decoder_dim: must be a multiple of 4 for a timm ViT")):
        validate({**BASE, "model": "vit_small_patch16_224", "method": "mae", "mae": {"decoder_dim": 30}}, "pretrain")
