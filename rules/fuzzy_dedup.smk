# rules for the fuzzy_dedup stage
