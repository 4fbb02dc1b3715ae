"""Benchmark scripts: speed, memory and quality figures, printed (never asserted in tests).

``python -m unlearnlab.perf.engine targets`` (engine throughput and memory),
``python -m unlearnlab.perf.evaluation --trained`` (the evaluation suite) and
``python -m unlearnlab.perf.models tiny`` (target and retrained models);
``python -m unlearnlab.perf.sweep_defaults rmu`` (how a method's tiny-tier defaults were chosen).  They
sit on top of the package and nothing inside the package imports them.
"""
