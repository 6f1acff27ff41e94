"""Intent classification on frozen sentence embeddings, with out-of-scope abstention.

The product uses the three names below. The modules, one concept each, are public to tests and
experiments (`benchmarks/experiments/`), which import nothing with a leading underscore:

- `model`: `EmbeddingIntentClassifier` (fit in four named steps, predict, save, load), `IntentPrediction`;
- `config`: `ClassifierConfig`, every option of the classifier, its head and its out-of-scope score;
- `examples`: the inputs checked once, and the known out-of-scope messages (negatives);
- `heldout`: held-out folds or val, and the choice of layer features on them;
- `head`: the trained softmax-linear head, its raw scores, calibration and files;
- `training`: the head's numpy AdamW training (one-cycle schedule, lazy sparse TF-IDF updates);
- `features`: TF-IDF word and character n-grams;
- `signals`: the out-of-scope signals (Mahalanobis, energy, kNN, negative bank) and their z-summed score;
- `abstention`: the threshold and ambiguity margin fitted on held-out predictions;
- `corpus`: the shipped generic off-topic corpus (`generic_oos.txt`).
"""

from bot.nlu.classifier.config import ClassifierConfig
from bot.nlu.classifier.model import EmbeddingIntentClassifier, IntentPrediction

__all__ = ["ClassifierConfig", "EmbeddingIntentClassifier", "IntentPrediction"]
