"""The knowledge base: loaders (Markdown, CSV/TSV), validation, the vector index and the
retrieval-augmented responder, held by `KnowledgeService` with atomic hot reload.

Nothing is done at import time; import the submodules you need.
"""
