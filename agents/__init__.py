"""Learning agents: DirectBackprop, structure-informed penalties, ORPR (imported as invgym.agents)."""
