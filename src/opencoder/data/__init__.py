"""Data phase: raw files to the filtered, sampled corpus (paper section 1)."""
