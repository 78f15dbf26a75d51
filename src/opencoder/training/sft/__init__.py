"""Supervised fine-tuning (paper 5): instruction data, decontamination, packing, the two SFT stages.

Kept under `training/` because the SFT stages run through the same driver, launcher and checkpoints
as pretraining and annealing (`opencoder.training.loop`); only the data differs.
"""
