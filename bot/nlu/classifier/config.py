"""`ClassifierConfig`: every option of the intent classifier, its head and its out-of-scope score."""

from __future__ import annotations

from dataclasses import dataclass

from bot.encoding import DEFAULT_LAYER_FEATURES, parse_layer_feature

FALLBACK_OOS_WEIGHT = 0.05
"""The oos weight without validation data (one message in 21 off-topic): see `ClassifierConfig.oos_weight`."""


@dataclass(frozen=True)
class ClassifierConfig:
    """Options of `EmbeddingIntentClassifier`; every field has a default (the shipped configuration).

    Abstention
    threshold: abstain when the OOS score is below it (None = fitted).
    ambiguity_margin: abstain when top1 - top2 probability is below it (None = fitted).
    oos_weight: when fitting the threshold, one point of oos recall is worth this many
        points of in-scope accuracy (= expected oos share / in-scope share of traffic).
        None: on validation data, each held-out example counts once (the threshold maximises
        plain accuracy with oos as a class, so the data's own oos share is the weight); without
        validation data the held-out negatives are the generic corpus, whose size says nothing
        about traffic, and FALLBACK_OOS_WEIGHT (one message in 21 off-topic) is used.
    max_in_scope_rejection: without any out-of-scope examples to fit on, the threshold
        rejects at most this share of held-out in-scope examples.
    threshold_bootstrap: with out-of-scope examples to fit on, the threshold is the median of
        the best thresholds of this many bootstrap resamples of the held-out data (steadier
        than the single best threshold of ~100 oos examples; 0 = the single best).

    The head's input
    use_tfidf: use TF-IDF word (1-2) and char (2-5) n-grams beside the embedding, their weights
        trained jointly with the head.
    char_min_df: the character n-grams kept appear in at least this many training examples.
    layer_features: pooled hidden states of the encoder's same forward pass used beside the
        embedding (`bot.encoding.layer_features`; used when the encoder can give them, () = embedding only).
    select_layer_features: train one head per subset of layer_features (the embedding alone
        included) and keep the one with the best held-out top-1 accuracy (val, else held-out
        folds); False: use all of layer_features.
    layer_weight: each layer feature enters centred on its training mean, L2-normalised, x this.
    embedding_scale: weight of the embedding block against the TF-IDF block.

    Training (`training.train_softmax`)
    seed: the head's minibatch order, the held-out folds and the threshold's bootstrap resamples.
    epochs, batch_size, learning_rate, weight_decay: AdamW training of the linear head
        (epochs=10: +0.4 in-scope, -2 points of oos recall on CLINC150, twice the time).
    min_steps: train at least this many minibatch steps (more epochs on small data).

    Out-of-scope signals (`signals`), summed after z-normalisation on held-out in-scope examples
    use_generic_oos: embed the shipped generic off-topic corpus as negatives (needs `embed`);
        sentences closer than generic_oos_max_similarity to a training example are dropped.
    negative_k: add minus the mean cosine similarity to the k nearest negatives (the generic
        corpus and the training data's own out-of-scope examples) to the OOS score (0 = off).
    knn_k: add the mean cosine similarity to the k nearest training examples to the OOS
        score (keeps the training embeddings in the model; 0 = off).
    knn_classes: search those neighbours among the examples of the top knn_classes intents
        only (0 = all examples; a full scan costs ~1 ms per message on CLINC150).
    oos_energy: add the z-normalised energy (logsumexp of the logits) to the OOS score.
    shrinkage: the Mahalanobis signal's shared covariance is shrunk this much towards a scaled identity.

    Ranking
    knn_vote: blend the intents of the knn_k neighbours (the kNN signal's own neighbours,
        votes weighted by exp(cosine / knn_vote_temp)) into the ranking probabilities with this
        weight (0 = off); the OOS score keeps the plain softmax's max probability.
    """

    threshold: float | None = None
    ambiguity_margin: float | None = None
    seed: int = 0
    oos_weight: float | None = None
    max_in_scope_rejection: float = 0.02
    use_tfidf: bool = True
    char_min_df: int = 2
    layer_features: tuple[str, ...] = DEFAULT_LAYER_FEATURES
    select_layer_features: bool = True
    layer_weight: float = 1.0
    embedding_scale: float = 2.0
    epochs: int = 5
    batch_size: int = 512
    learning_rate: float = 0.03
    weight_decay: float = 1e-4
    min_steps: int = 150
    use_generic_oos: bool = True
    generic_oos_max_similarity: float = 0.7
    negative_k: int = 1
    knn_k: int = 10
    knn_classes: int = 5
    oos_energy: bool = True
    shrinkage: float = 0.1
    knn_vote: float = 0.2
    knn_vote_temp: float = 0.05
    threshold_bootstrap: int = 201

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_in_scope_rejection < 1.0:
            raise ValueError(
                f"max_in_scope_rejection must be in [0, 1), got {self.max_in_scope_rejection}: "
                "use e.g. 0.02 to reject at most 2% of in-scope messages"
            )
        if self.oos_weight is not None and self.oos_weight < 0.0:
            raise ValueError(f"oos_weight must be >= 0, got {self.oos_weight}")
        object.__setattr__(self, "layer_features", tuple(self.layer_features))  # a list from JSON
        for name in self.layer_features:
            parse_layer_feature(name)
        if self.negative_k < 0:
            raise ValueError(f"negative_k must be >= 0 (0 turns the negative-bank signal off), got {self.negative_k}")
        if self.knn_k < 0:
            raise ValueError(f"knn_k must be >= 0 (0 turns the kNN signal off), got {self.knn_k}")
        if not 0.0 <= self.knn_vote <= 1.0:
            raise ValueError(f"knn_vote must be in [0, 1] (a blending weight), got {self.knn_vote}")
        if self.threshold_bootstrap < 0:
            raise ValueError(f"threshold_bootstrap must be >= 0 (0 = off), got {self.threshold_bootstrap}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
