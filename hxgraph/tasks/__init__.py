"""Ready-made experiments shared by the examples, the notebooks and the `hxgraph demo` command."""
