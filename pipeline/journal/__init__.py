"""The SQLite journal that makes runs resumable and idempotent: `store.Journal` (records, rows,
associations, runs, inputs), `file` (schema, connect, the run lock), `types` (WorkItem, RowState).
"""
