"""Pretraining and annealing with megatron-core: model, data, schedule, checkpoints, loop, CLI."""
