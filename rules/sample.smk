# rules for the sample stage
