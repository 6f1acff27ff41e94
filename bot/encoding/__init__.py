"""Encoding: texts in, normalised sentence embeddings (and layer features of the same pass) out.

    protocol.py               `Encoder`, `LayerEncoder`, `Encoded`, `EncodingRequest`, `encode_with_layers`
    layer_features.py         layer feature names (`mean_layer4`) and pooling of hidden states
    sentence_transformers.py  `SentenceTransformerEncoder`: the real model, offline, on the CPU
    bert_forward.py           `BertMeanPoolForward`: the fused forward pass of a plain BERT model
    wrapper.py                `EncoderWrapper`: the base of encoders around another one
    cache.py                  `CachedEncoder`: embeddings kept in SQLite, keyed by model and text
    batching.py               `MicroBatchingEncoder`: concurrent callers share one forward pass
    fake.py                   `FakeEncoder`: deterministic hashing vectors for unit tests
    factory.py                `build_encoder`: the encoder the settings ask for

Nothing loads at import: the model loads in `SentenceTransformerEncoder.warm_up()` or on first use.
"""

from __future__ import annotations

from bot.encoding.batching import BatchCallback, BatchStats, MicroBatchingEncoder
from bot.encoding.cache import CachedEncoder
from bot.encoding.factory import build_encoder
from bot.encoding.fake import FakeEncoder
from bot.encoding.layer_features import (
    DEFAULT_LAYER_FEATURES,
    LayerFeature,
    check_layers,
    parse_layer_feature,
    pool,
)
from bot.encoding.protocol import (
    Encoded,
    Encoder,
    EncodingRequest,
    LayerEncoder,
    ProgressCallback,
    encode_with_layers,
    layer_names_for,
)
from bot.encoding.sentence_transformers import SentenceTransformerEncoder, default_model_path
from bot.encoding.wrapper import EncoderWrapper

__all__ = [
    "DEFAULT_LAYER_FEATURES",
    "BatchCallback",
    "BatchStats",
    "CachedEncoder",
    "Encoded",
    "Encoder",
    "EncoderWrapper",
    "EncodingRequest",
    "FakeEncoder",
    "LayerEncoder",
    "LayerFeature",
    "MicroBatchingEncoder",
    "ProgressCallback",
    "SentenceTransformerEncoder",
    "build_encoder",
    "check_layers",
    "default_model_path",
    "encode_with_layers",
    "layer_names_for",
    "parse_layer_feature",
    "pool",
]
