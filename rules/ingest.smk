# rules for the ingest stage
