"""cnam-batch: bulk CNAM (outbound caller-ID name) records for Flowroute numbers."""

__version__ = "0.1.0"
