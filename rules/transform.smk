# rules for the transform stage
