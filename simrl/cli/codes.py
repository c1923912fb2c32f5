"""Exit codes of the ``simrl`` program."""

EXIT_FAILED = 1  # the file system, SQLite, the cluster or a lost worker
EXIT_USAGE = 2  # a bad argument or config value (argparse uses 2 too)
EXIT_DIVERGED = 3  # a run diverged (simrl.errors.DivergenceError)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT): finished runs are stored
