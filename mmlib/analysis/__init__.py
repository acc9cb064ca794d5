"""Analysis: metrics, statistics and power, the oracle and probes, the claims, reliability contrasts."""
