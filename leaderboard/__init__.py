"""The invgym leaderboard: a versioned suite, trustworthy result files and a static board.

``invgym leaderboard run`` evaluates every built-in OR baseline on the suite and renders the board;
``invgym leaderboard submit --agent module:factory --name NAME`` evaluates an agent on the public seeds and writes
``leaderboard/results/NAME.json``; ``invgym leaderboard verify FILE`` re-evaluates a result file on held-out seeds
derived from a maintainer secret and checks its hashes and schema; ``invgym leaderboard render`` writes
``LEADERBOARD.md`` and ``site/index.html``. Nothing here imports torch, SB3 or Ray unless an agent needs them.
"""

from invgym.leaderboard.render import render
from invgym.leaderboard.run import run
from invgym.leaderboard.submit import submit
from invgym.leaderboard.suite import Instance, Suite, Track, load_suite
from invgym.leaderboard.verify import verify

__all__ = ["Instance", "Suite", "Track", "load_suite", "render", "run", "submit", "verify"]
