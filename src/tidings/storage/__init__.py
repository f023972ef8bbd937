"""Storage: the Store and its migrations."""
