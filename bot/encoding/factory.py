"""`build_encoder`: the encoder the settings ask for."""

from __future__ import annotations

from pathlib import Path

from bot.encoding.cache import CachedEncoder
from bot.encoding.protocol import Encoder
from bot.encoding.sentence_transformers import SentenceTransformerEncoder


def build_encoder(
    model_path: str | None, *, threads: int, batch_size: int, cache_file: Path | None, fused: bool = True
) -> Encoder:
    """The encoder the settings ask for, with the on-disk cache when a file is given."""
    encoder: Encoder = SentenceTransformerEncoder(model_path, threads=threads, batch_size=batch_size, fused=fused)
    if cache_file is not None:
        encoder = CachedEncoder(encoder, cache_file)
    return encoder
