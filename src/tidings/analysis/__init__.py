"""Analysis of articles: pure functions and lazily loaded models."""
