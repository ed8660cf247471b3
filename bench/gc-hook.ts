/**
 * Preloaded (`--import`) into the servers the bench measures, which run with `--expose-gc`:
 * SIGUSR2 collects garbage, so W2 reads RSS after GC has settled rather than whenever it ran,
 * then writes process.memoryUsage() to $BENCH_MEM_DIR/<pid>.json (heap vs. native split).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

process.on("SIGUSR2", () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const dir = process.env.BENCH_MEM_DIR;
  if (dir) writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify(process.memoryUsage()));
});
