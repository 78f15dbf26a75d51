# rules for the tokenizer stage
