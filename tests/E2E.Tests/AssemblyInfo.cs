// End-to-end tests share the machine's network stack and a running daemon each: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
