"""A Flowroute v2 compatible HTTP server for tests, demos and --sandbox runs, quirks included:
`server` (SandboxServer, SandboxConfig), `account`, `http` (routing), `wire` (the socket server),
`control` (rate limit, faults), `review` (the 48-hour human review, sped up), `state`.
"""
