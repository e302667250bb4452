"""How-tos: one short pytest module per pattern, run by the suite as a user would write it."""
