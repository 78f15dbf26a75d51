# rules for the tokens stage
