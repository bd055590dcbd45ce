"""The real run's API phase: `api_phase` (what the runner calls: endpoint, client, journal,
lifecycle, outcomes folded into the frame), `engine` (reconcile, create, poll, associate, carry over),
`outcomes` (the per-row ledger), `fanout` (calls over worker threads).
"""
