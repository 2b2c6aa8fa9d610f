"""The embedded local stack: the same code as on AWS, on loopback, with no account."""
