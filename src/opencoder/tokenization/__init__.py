"""Tokens phase: the BPE tokenizer and the megatron-core indexed datasets (paper 3.1)."""
