"""A tiny DCN-v2 preset for end-to-end runs of studies: one small cross layer and MLP, batches
of 256, one epoch unless a study's ``[all]`` asks for more."""

TINY_DCNV2 = """
family = "neural"
description = "DCN-v2, tiny"
[model.tokenizer]
embedding_dim = { choice = [8, 16] }
numeric_tokens = "flat"
[model.tokenizer.numeric]
kind = "log1p"
[model.interaction]
kind = "cross"
[model.interaction.cross]
layers = 1
[model.backbone]
kind = "mlp"
[model.backbone.mlp]
dims = [32]
[train]
learning_rate = { float = [1e-3, 3e-3], log = true }
batch_size = 256
max_epochs = 1
"""
