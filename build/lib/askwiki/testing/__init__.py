"""Test doubles for the LLM and the embedder: scripted, deterministic, no model files.

They live in the package (as LangChain's fake embeddings do) so that the tests, the
benchmarks and anyone embedding askwiki can use the same fakes.
"""
