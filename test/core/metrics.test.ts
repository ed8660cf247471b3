/**
 * duet's allocation-free histogram (CountingHistogram) against prom-client's own: the same
 * observations give the same /metrics text and the same JSON, labelled or not, observed or not.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import client from "prom-client";
import { CountingHistogram } from "../../src/metrics.js";

const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1];
const values = [0, 0.0001, 0.0005, 0.0007, 0.001, 0.003, 0.02, 0.05, 0.07, 0.4, 1, 3, 1e6];

function pair(labelled: boolean) {
  const reference = new client.Registry();
  const ours = new client.Registry();
  const config = {
    name: "x_seconds",
    help: "Some latency",
    buckets,
    ...(labelled ? { labelNames: ["op"] as const } : {}),
  };
  return {
    reference,
    ours,
    theirs: new client.Histogram<string>({
      ...config,
      labelNames: config.labelNames ?? [],
      registers: [reference],
    }),
    mine: new CountingHistogram<string>({
      ...config,
      labelNames: config.labelNames ?? [],
      registers: [ours],
    }),
  };
}

test("an unlabelled histogram: the same text and JSON as prom-client's, before and after observations", async () => {
  const { reference, ours, theirs, mine } = pair(false);
  assert.equal(await ours.metrics(), await reference.metrics());
  for (const v of values) {
    theirs.observe(v);
    mine.add(mine.unlabelled, v);
  }
  assert.equal(await ours.metrics(), await reference.metrics());
  assert.deepEqual(await ours.getMetricsAsJSON(), await reference.getMetricsAsJSON());
  assert.match(await ours.metrics(), /x_seconds_bucket\{le="0\.001"\} 5\n/);
  assert.match(await ours.metrics(), /x_seconds_count 13\n/);
});

test("a labelled histogram: series appear as observed, with the same text and JSON", async () => {
  const { reference, ours, theirs, mine } = pair(true);
  assert.equal(await ours.metrics(), await reference.metrics());
  for (const [i, v] of values.entries()) {
    const op = i % 3 === 0 ? "send" : "history";
    theirs.observe({ op }, v);
    mine.add(mine.seriesOf("op", op), v);
    if (i === 2) assert.equal(await ours.metrics(), await reference.metrics());
  }
  assert.equal(await ours.metrics(), await reference.metrics());
  assert.deepEqual(await ours.getMetricsAsJSON(), await reference.getMetricsAsJSON());
  assert.match(await ours.metrics(), /x_seconds_count\{op="send"\} 5\n/);
});
