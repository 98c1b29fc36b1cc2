"""User Python referenced from ``pipelines.yaml`` by dotted path (``flows.games:enrich_session``)."""
