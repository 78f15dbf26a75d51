"""Shared infrastructure: config, the document schema, shards, stats, languages, the stage command line."""
