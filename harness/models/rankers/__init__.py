"""Rankers: compositions of built parts that map a batch's features to logits."""

from harness.models.rankers.dcnv2 import DCNv2Ranker

__all__ = ["DCNv2Ranker"]
