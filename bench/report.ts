/** The bench's output: per-case medians as a table, Socket.IO ratios, and their JSON lines. */

import { at } from "../test/helpers/kit.js";
import type { Target, Transport } from "./protocol.js";
import { median } from "./stats.js";

export interface RunResult {
  workload: "w1" | "w2" | "w3";
  target: Target;
  transport: Transport;
  store: string;
  workers: number;
  /** Extra duet environment of an experiment (--duet-env). */
  env?: Record<string, string>;
  run: number;
  /** Numbers only, so medians can be taken key by key; absent when not measured. */
  metrics: Record<string, number | undefined>;
  errorSamples: string[];
  /** Redis calls per delivered message by command (INFO commandstats; includes commands run by scripts). */
  redisCallsPerMsg?: Record<string, number>;
}

/** Counts where any non-zero run matters: summed over runs, not a median. */
const SUMMED = new Set([
  "lost",
  "duplicated",
  "outOfOrder",
  "errors",
  "deliveredAfterError",
  "disconnects",
  "failed",
  "undrained",
]);

interface Group {
  key: string;
  first: RunResult;
  runs: RunResult[];
  metrics: Record<string, number>;
}

function groupRuns(results: RunResult[]): Group[] {
  const groups = new Map<string, Group>();
  for (const r of results) {
    const key = `${r.workload} ${r.target} ${r.transport} ${r.store} ${r.workers}`;
    let group = groups.get(key);
    if (!group) {
      group = { key, first: r, runs: [], metrics: {} };
      groups.set(key, group);
    }
    group.runs.push(r);
  }
  for (const group of groups.values()) {
    const names = new Set(group.runs.flatMap((r) => Object.keys(r.metrics)));
    for (const name of names) {
      const values = group.runs.map((r) => r.metrics[name]).filter((v): v is number => v !== undefined);
      if (values.length === 0) continue;
      group.metrics[name] = SUMMED.has(name) ? values.reduce((a, b) => a + b, 0) : median(values);
    }
  }
  return [...groups.values()];
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => at(r, i).length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 4 ? c.padEnd(at(widths, i)) : c.padStart(at(widths, i)))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const fixed = (digits: number) => (v: number | undefined) =>
  v === undefined || Number.isNaN(v) ? "-" : v.toFixed(digits);
const int = (v: number | undefined) =>
  v === undefined || Number.isNaN(v) ? "-" : Math.round(v).toLocaleString("en-US");
const mb = (v: number | undefined) => (v === undefined ? "-" : (v / 1048576).toFixed(0));
const kb = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "-" : (v / 1024).toFixed(1));
const percent = (v: number | undefined) =>
  v === undefined || Number.isNaN(v) ? "-" : `${(v * 100).toFixed(0)}%`;

export interface SummaryOptions {
  runs: number;
}

/** The human tables (medians of the runs) and `BENCH_JSON` lines for the medians and ratios. */
export function printSummary(results: RunResult[], options: SummaryOptions): string {
  const groups = groupRuns(results);
  const out: string[] = [""];
  const json: string[] = [];
  const traffic = groups.filter((g) => g.first.workload !== "w2");
  const idle = groups.filter((g) => g.first.workload === "w2");
  const median = options.runs > 1 ? ` (medians of ${options.runs} interleaved runs; counts summed)` : "";
  if (traffic.length > 0) {
    out.push(`W1 chat relay / W3 open loop${median}`);
    out.push(
      table(
        [
          "wl",
          "server",
          "transport",
          "store",
          "msgs/s",
          "p50 ms",
          "p99 ms",
          "max ms",
          "lost",
          "dup",
          "ooo",
          "err",
          "undrained",
          "srv cores",
          "µs/msg",
          "msgs/s/core",
          "loadgen cores",
          "srv RSS MB",
          "disk B/msg",
          "redis cmds/msg",
          "redis B/msg",
          "redis µs/msg",
          "apart",
        ],
        traffic.map(({ first, metrics: m }) => [
          first.workload,
          first.workers > 1 ? `${first.target}×${first.workers}` : first.target,
          first.transport,
          first.store,
          int(m.msgsPerSec),
          fixed(1)(m.p50Ms),
          fixed(1)(m.p99Ms),
          fixed(0)(m.maxMs),
          int(m.lost),
          int(m.duplicated),
          int(m.outOfOrder),
          int(m.errors),
          int(m.undrained),
          fixed(2)(m.serverCores),
          fixed(1)(m.usPerMsg),
          int(m.capacityPerCore),
          fixed(2)(m.loadgenCores),
          mb(m.serverRssBytes),
          int(m.diskBytesPerMsg),
          fixed(2)(m.redisCmdsPerMsg),
          int(m.redisBytesPerMsg),
          fixed(1)(m.redisUsPerMsg),
          percent(m.peersApart),
        ]),
      ),
    );
    out.push("");
  }
  if (idle.length > 0) {
    out.push(`W2 idle connections${median}`);
    out.push(
      table(
        [
          "wl",
          "server",
          "transport",
          "store",
          "conns",
          "failed",
          "RSS before MB",
          "RSS after MB",
          "KB/conn (RSS)",
          "JS heap KB/conn",
          "external KB/conn",
        ],
        idle.map(({ first, metrics: m }) => [
          first.workload,
          first.target,
          first.transport,
          first.store,
          int(m.conns),
          int(m.failed),
          mb(m.rssBeforeBytes),
          mb(m.rssAfterBytes),
          kb(m.bytesPerConn),
          kb(m.heapBytesPerConn),
          kb(m.externalBytesPerConn),
        ]),
      ),
    );
    out.push("");
  }
  for (const group of groups) {
    json.push(
      `BENCH_JSON ${JSON.stringify({ kind: "median", ...describe(group), runs: group.runs.length, metrics: group.metrics })}`,
    );
  }
  // duet against Socket.IO, case by case.
  for (const group of groups.filter((g) => g.first.target === "duet")) {
    const other = groups.find(
      (g) =>
        g.first.target === "socketio" &&
        g.first.workload === group.first.workload &&
        g.first.transport === group.first.transport,
    );
    if (!other) continue;
    // A metric missing from either run makes its ratio NaN, which the table shows as such.
    const ratio = (metric: string) =>
      (group.metrics[metric] ?? Number.NaN) / (other.metrics[metric] ?? Number.NaN);
    const ratios: Record<string, number> =
      group.first.workload === "w2"
        ? { bytesPerConn: ratio("bytesPerConn") }
        : { usPerMsg: ratio("usPerMsg"), msgsPerSec: ratio("msgsPerSec"), p99Ms: ratio("p99Ms") };
    const text = Object.entries(ratios)
      .map(([k, v]) => `${k} ×${v.toFixed(2)}`)
      .join(", ");
    out.push(`duet ÷ Socket.IO, ${group.first.workload} ${group.first.transport}: ${text}`);
    json.push(
      `BENCH_JSON ${JSON.stringify({ kind: "ratio", workload: group.first.workload, transport: group.first.transport, of: "duet/socketio", ratios })}`,
    );
  }
  for (const group of groups) {
    const calls = group.runs.at(-1)?.redisCallsPerMsg;
    if (!calls) continue;
    const top = Object.entries(calls)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([command, n]) => `${command} ${n.toFixed(2)}`)
      .join(", ");
    out.push(`Redis calls per message, ${group.first.target} ${group.first.transport} (last run): ${top}`);
  }
  const samples = results.flatMap((r) =>
    r.errorSamples.map((e) => `  ${r.workload} ${r.target} ${r.transport} run ${r.run}: ${e}`),
  );
  if (samples.length > 0) out.push("", "notes from the load generator:", ...samples.slice(0, 20));
  return `${out.join("\n")}\n${json.join("\n")}\n`;
}

function describe(group: Group) {
  const { workload, target, transport, store, workers } = group.first;
  return { workload, target, transport, store, workers };
}
