"""asyncbdd: behaviour-driven testing for asynchronous, event-driven systems."""

__version__ = "0.1.0"
