"""connector: the customer behind every helpdesk ticket."""

__version__ = "0.1.0"
