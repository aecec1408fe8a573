"""The on-disk index: versions, manifest, SQLite docstore, FAISS dense leg, BM25 keyword leg."""
