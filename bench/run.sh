# orchestration: strategy bookkeeping, fresh run against replay from a saved state
"$1/bench/bench_strategy" 20000
