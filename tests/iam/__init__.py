"""IAM enforced in the tests: record the AWS calls each function and the CLI make, evaluate
them against the roles and managed policies template.yaml gives them."""
