"""Release phase: model and dataset cards, publishing to the Hub, the build report."""
