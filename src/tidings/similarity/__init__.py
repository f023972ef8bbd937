"""Similarity of articles: embeddings index, lexical overlap, near-duplicate fingerprints, ranking."""
