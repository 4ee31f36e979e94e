"""CloudFormation/SAM generation, packaging and deployment of kbflow to AWS."""
