"""Budget accounting: per-period windows, reservations against per-user and per-team limits, alerts."""
