"""The beat schedule and what keeps it to one Daily Sync a day."""
