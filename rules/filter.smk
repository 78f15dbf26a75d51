# rules for the filter stage
