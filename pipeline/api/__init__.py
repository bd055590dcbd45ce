"""The Flowroute v2 client side: one method per endpoint (client), base URLs and sessions (urls),
answers to typed values and exceptions (parse, types), the client-side rate limit (ratelimit) and
the retry policy (retry). Knows nothing of rows, journals or reports.
"""
