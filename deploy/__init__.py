"""CloudFormation generation, packaging and deployment of kbflow to AWS.

- :mod:`kbflow.deploy.template` builds the stack from the committed definitions and the task
  catalog (``kbflow deploy template``); :mod:`~kbflow.deploy.machines`,
  :mod:`~kbflow.deploy.functions`, :mod:`~kbflow.deploy.storage`, :mod:`~kbflow.deploy.events`
  and :mod:`~kbflow.deploy.monitoring` hold its parts; :mod:`~kbflow.deploy.scan` reads what a
  definition needs and :mod:`~kbflow.deploy.iam` keeps every policy least-privilege.
- :mod:`kbflow.deploy.package` builds the Lambda artifact (``kbflow deploy package``).
- :mod:`kbflow.deploy.apply` creates or updates the stack (``kbflow deploy apply``) and
  :mod:`kbflow.deploy.registry` records its outputs for the SDK.
"""
