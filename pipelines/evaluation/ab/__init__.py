"""A/B experiments: per-user analysis (SRM, Welch, delta, CUPED, Holm), its report, and the offline replay simulator."""
