"""`BertMeanPoolForward`: the forward pass of a BERT sentence-transformer (all-MiniLM-L6-v2 and its kin)
as a dozen plain torch calls per layer, with the model's own weights.

Why: on 2 cores a short customer message costs ~13 ms in these calls and ~5 ms more in the Python
layers around them in `transformers` (module hooks, config lookups, mask builders), and that overhead
holds the GIL, which the server's other requests need. Same arithmetic, same weights: the vectors equal
the library's to float rounding (checked at build time on a probe batch; any mismatch, or a model that
is not a plain BERT + mean pooling, keeps the library's forward).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.encoding.layer_features import LayerFeature, pool

log = logging.getLogger(__name__)

_PROBE = [
    "where is my order",
    "Can I return a jacket I bought in the Berlin shop, and how long does the refund take?",
    "hi",
]
_TOLERANCE = 1e-4


class BertMeanPoolForward:
    """Embeds tokenised features (`input_ids`, `attention_mask`, `token_type_ids`) into normalised
    mean-pooled vectors. Build it with `for_model`, which returns None for any other architecture."""

    def __init__(self, weights: dict[str, Any], config: Any, normalize: bool) -> None:
        import torch

        def w(name: str) -> Any:
            return weights[name].detach().float().contiguous()

        self._heads = int(config.num_attention_heads)
        self._dim = int(config.hidden_size)
        self._eps = float(config.layer_norm_eps)
        self._normalize = normalize
        self._word = w("embeddings.word_embeddings.weight")
        self._position = w("embeddings.position_embeddings.weight")
        self._token_type = w("embeddings.token_type_embeddings.weight")
        self._embed_norm = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self._layers = []
        for i in range(int(config.num_hidden_layers)):
            p = f"encoder.layer.{i}."
            attention = p + "attention.self."
            qkv_weight = torch.cat([w(f"{attention}{part}.weight") for part in ("query", "key", "value")])
            qkv_bias = torch.cat([w(f"{attention}{part}.bias") for part in ("query", "key", "value")])
            self._layers.append(
                (
                    qkv_weight,
                    qkv_bias,
                    w(p + "attention.output.dense.weight"),
                    w(p + "attention.output.dense.bias"),
                    w(p + "attention.output.LayerNorm.weight"),
                    w(p + "attention.output.LayerNorm.bias"),
                    w(p + "intermediate.dense.weight"),
                    w(p + "intermediate.dense.bias"),
                    w(p + "output.dense.weight"),
                    w(p + "output.dense.bias"),
                    w(p + "output.LayerNorm.weight"),
                    w(p + "output.LayerNorm.bias"),
                )
            )

    @classmethod
    def for_model(cls, model: Any) -> BertMeanPoolForward | None:
        """The fast path for a loaded `SentenceTransformer`, or None when it does not apply or does not
        reproduce the library's vectors on a probe batch."""
        try:
            fast = cls._build(model)
        except Exception as e:  # an unexpected model layout: keep the library's forward
            log.info("encoder: library forward (%s: %s)", type(e).__name__, e)
            return None
        if fast is None:
            return None
        difference = fast.max_difference(model, _PROBE)
        if difference > _TOLERANCE:
            log.warning("encoder: fused forward differs from the library by %.2g; using the library's", difference)
            return None
        return fast

    @classmethod
    def _build(cls, model: Any) -> BertMeanPoolForward | None:
        modules = list(model)
        names = [type(m).__name__ for m in modules]
        if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        hf = getattr(modules[0], "auto_model", None)
        config = getattr(hf, "config", None)
        if hf is None or config is None or getattr(config, "model_type", None) != "bert":
            return None
        if getattr(config, "hidden_act", None) != "gelu" or getattr(config, "position_embedding_type", "absolute") != (
            "absolute"
        ):
            return None
        if getattr(modules[1], "pooling_mode", None) != "mean":
            return None
        return cls(hf.state_dict(), config, normalize=len(modules) == 3)

    def max_difference(self, model: Any, texts: list[str]) -> float:
        import torch

        features = _preprocess(model, texts)
        with torch.inference_mode():
            reference = model.forward(dict(features))["sentence_embedding"].float()
            ours = self(features)
        return float((reference - ours).abs().max())

    @property
    def n_layers(self) -> int:
        return len(self._layers)

    def __call__(self, features: dict[str, Any]) -> Any:
        """Run inside `torch.inference_mode()`; returns a (batch, dim) float tensor."""
        return self.forward_layers(features, ())[0]

    def forward_layers(self, features: dict[str, Any], layers: Sequence[LayerFeature]) -> tuple[Any, list[Any]]:
        """The sentence embeddings and, from the same pass, the pooled hidden states `layers` (in order)."""
        import torch.nn.functional as F  # noqa: N812 - torch's own idiom

        ids = features["input_ids"]
        mask = features["attention_mask"]
        types = features.get("token_type_ids")
        batch, length = ids.shape
        dim, heads, eps = self._dim, self._heads, self._eps
        x = F.embedding(ids, self._word) + self._position[:length]
        x = x + (F.embedding(types, self._token_type) if types is not None else self._token_type[0])
        x = F.layer_norm(x, (dim,), *self._embed_norm, eps)
        wanted: dict[int, list[int]] = {}
        for i, feature in enumerate(layers):
            wanted.setdefault(feature.layer, []).append(i)
        pooled_layers: list[Any] = [None] * len(layers)

        def keep(depth: int, hidden: Any) -> None:
            for i in wanted.get(depth, ()):
                pooled_layers[i] = pool(hidden, mask, layers[i].pooling)

        keep(0, x)
        additive = None
        if batch > 1:  # padded positions get -inf-like scores; one sentence has no padding
            additive = (mask[:, None, None, :].to(x.dtype) - 1.0) * 1e9
        for depth, (qkv_w, qkv_b, out_w, out_b, n1_w, n1_b, in_w, in_b, o_w, o_b, n2_w, n2_b) in enumerate(
            self._layers, start=1
        ):
            qkv = F.linear(x, qkv_w, qkv_b).view(batch, length, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
            attended = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=additive)
            attended = attended.transpose(1, 2).reshape(batch, length, dim)
            x = F.layer_norm(F.linear(attended, out_w, out_b) + x, (dim,), n1_w, n1_b, eps)
            x = F.layer_norm(F.linear(F.gelu(F.linear(x, in_w, in_b)), o_w, o_b) + x, (dim,), n2_w, n2_b, eps)
            keep(depth, x)
        pooled = pool(x, mask, "mean")
        return (F.normalize(pooled, p=2, dim=1) if self._normalize else pooled), pooled_layers


def _preprocess(model: Any, texts: list[str]) -> dict[str, Any]:
    prepare = getattr(model, "preprocess", None) or model.tokenize
    features: dict[str, Any] = prepare(texts)
    return features
