"""signoff: Slack approvals on AWS Lambda durable functions."""

__version__ = "0.1.0"
