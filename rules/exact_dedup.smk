# rules for the exact_dedup stage
