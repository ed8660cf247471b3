/**
 * Preloaded (`--import`) into the servers the bench measures, which run with `--expose-gc`:
 * SIGUSR2 collects garbage, so W2 reads RSS after GC has settled rather than whenever it ran.
 */
process.on("SIGUSR2", () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
});
