"""The shipped generic out-of-scope corpus (`bot.nlu.classifier.corpus`)."""

from __future__ import annotations

import numpy as np

from bot.encoding import Encoded
from bot.nlu.classifier.corpus import generic_negatives, generic_oos_texts


def test_corpus_has_sentences_and_no_comments() -> None:
    texts = generic_oos_texts()
    assert len(texts) > 200
    assert all(t and not t.startswith("#") and t == t.strip() for t in texts)


def test_sentences_like_the_bot_s_own_examples_are_dropped() -> None:
    texts = generic_oos_texts()
    vectors = np.zeros((len(texts), 2), dtype=np.float32)
    vectors[:, 1] = 1.0
    vectors[0] = (1.0, 0.0)  # the first sentence looks like an in-scope example

    def embed(batch: object) -> Encoded:
        return Encoded(vectors)

    kept, kept_texts = generic_negatives(embed, np.asarray([[1.0, 0.0]], dtype=np.float32), (), 0.7)
    assert len(kept) == len(texts) - 1 and kept_texts == texts[1:]
