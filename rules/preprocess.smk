# rules for the preprocess stage
