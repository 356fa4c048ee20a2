"""Analysis: measuring metrics, classifying measurements, judging runs, SLO gates, preflight."""
