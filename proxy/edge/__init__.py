"""The HTTP edge: the Starlette app, its routes and everything a request meets before the pipeline.

app.py builds the app and its lifespan and serves chat; guard.py refuses
foreign origins, key_auth.py says who is asking; early_stream.py starts an
`auto` stream at once; completions.py serves autocomplete; api.py,
settings_api.py and quality_api.py the JSON API, dashboard.py (static/) the
dashboard, metrics.py /metrics, openapi_spec.py /openapi.json; catalogue_refresh.py
and retention_job.py run in the background.

May import: proxy (errors, config, chat), wire, storage, upstreams, judgment, money, pipeline.
"""
