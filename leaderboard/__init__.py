"""The shared leaderboard: suite, scoring, submission, verification, site (imported as invgym.leaderboard)."""
