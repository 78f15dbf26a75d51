"""Deduplication: exact (SHA-256) then fuzzy (MinHash + LSH), paper 1.3-1.4."""
