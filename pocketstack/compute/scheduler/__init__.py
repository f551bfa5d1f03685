"""The filter scheduler: filter hosts, weigh them, claim on the best."""
