"""Fuzzy deduplication (paper 1.4): file-level MinHash LSH, as scatter/gather steps.

    exact/<shard>.parquet
      └─ signatures (per shard)    shingles → MinHash (2,048 perms) → 16 band keys    signatures.py
           └─ buckets (per band range)  streaming group-by of band keys → candidate edges  lsh.py
                └─ clusters (once)     connected components → keep rule → removed.parquet  components.py
                     └─ remove (per shard)  fuzzy/<shard>.parquet + stats                 removal.py

`opencoder dedup` runs exact then fuzzy dedup on a folder of parquet files with the same
functions (standalone.py); `opencoder dedup-explain` shows a cluster (explain.py); quality.py
measures the LSH's precision and recall against exact Jaccard.

Where we differ from the paper, and why:
- The paper gives "5-gram" shingles without the unit or normalisation; we use 5 *words* of a
  normalised text (ASCII lower-cased, split on anything not a letter, digit or `_`), so that
  re-indented or reformatted copies match. `unit: char` is the alternative (shingles.py).
- The paper does not say how files too short for one shingle are treated; we deduplicate them
  by the exact hash of their normalised text, in the same LSH machinery (an extra "short" band).
- Candidate pairs join a cluster without an exact-Jaccard check, as in the paper; setting
  `verify_jaccard` adds one (its effect is counted in `fuzzy/clusters.json`).
- The MinHash family is datasketch's "affine32" scheme (its default); a faster compiled kernel
  gives value-for-value the same sketches (tests/test_dedup_fuzzy_minhash.py).
"""
