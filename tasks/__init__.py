"""The skills, one module per organ, and the Daily Sync canvas."""
