"""Building a council's outputs from its params file."""
