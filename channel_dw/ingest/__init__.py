"""The loading core shared by every source: ledger, COPY, quarantine, checks, atomic swap."""
