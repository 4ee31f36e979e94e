"""kbflow's local Step Functions API and web console (``kbflow console``).

boto3, the AWS CLI and any AWS SDK talk to it with ``endpoint_url``; the console at ``/``
shows state machines, executions (graph, events, cost) and the human-review inbox::

    from kbflow.runtime.api import AppConfig, EngineBackend, create_app

    app = create_app(EngineBackend(engine), AppConfig(auth_token=None))
"""

from __future__ import annotations

from .app import AppConfig, create_app
from .backend import EngineBackend
from .operations import Settings

__all__ = ["AppConfig", "EngineBackend", "Settings", "create_app"]
