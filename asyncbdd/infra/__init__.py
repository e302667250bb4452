"""Embedded infrastructure: the brokers and stores asyncbdd starts when none is configured."""
