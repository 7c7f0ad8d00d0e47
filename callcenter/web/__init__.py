"""HTTP entrypoints: thin routes that parse, call one use case, and map errors."""
