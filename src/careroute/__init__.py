"""careroute: dispatch for a medical practice's inbound work."""

__version__ = "0.1.0"
