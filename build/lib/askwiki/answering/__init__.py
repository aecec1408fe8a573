"""Answering: prompt packing, generation, citation checking, the answer service."""
