"""Backbones by name: the two built in for the CPU demo, or any model that timm knows.

timm models are always built randomly initialized (pretrained=False): septflow pre-trains them
itself, and its machines reach no weight hub.
"""
BUILT_IN = ("cnn_small", "vit_tiny")
# The paper's backbones: those a run configuration may name (lib/config/schema.ts BACKBONES).
PAPER = ("resnet50", "vit_small_patch16_224", "vit_base_patch16_224")
# timm's module of the plain ViTs (patch tokens plus prefix tokens): the ones MAE can mask.
TIMM_VIT_MODULE = "timm.models.vision_transformer"


def kind(name):
    """"vit" (patch tokens, maskable by MAE), "convnet" (any other), or None for a name timm does not know."""
    if name in BUILT_IN:
        return "vit" if name == "vit_tiny" else "convnet"
    # Imports torch: only a config that names a timm backbone pays for it before it is valid.
    import timm
    from timm.models import model_entrypoint

    if not timm.is_model(name):
        return None
    return "vit" if model_entrypoint(name).__module__ == TIMM_VIT_MODULE else "convnet"
