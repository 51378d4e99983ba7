"""`--workers N`: a supervisor process and N gateway workers sharing the listening ports."""
