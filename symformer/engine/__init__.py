"""The derivation model and its verification: the method ladder, concrete-size realisation, zero tests,
the index-notation prover, the numeric evaluator, domains, time bounds, the catalog, batches and the cache.
"""
