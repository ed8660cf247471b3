/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`) by self time: the frames where the CPU
 * actually was, and the same grouped by source (duet, ws, better-sqlite3, node internals, GC...).
 *
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { at } from "../test/helpers/kit.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FrameTime {
  frame: string;
  group: string;
  selfMs: number;
  percent: number;
}

/** Where a frame's code comes from, for the grouped view. */
function groupOf(url: string, name: string): string {
  if (url === "") return name.startsWith("(") ? name : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return at(pkg, 1);
  if (url.startsWith("node:")) return "node internals";
  if (url.includes("/dist/") || url.includes("/src/")) return "duet";
  return "other";
}

function shortUrl(url: string): string {
  const at = url.lastIndexOf("node_modules/");
  if (at !== -1) return url.slice(at + "node_modules/".length);
  const src = url.search(/\/(dist|src|bench)\//);
  return src === -1 ? url : url.slice(src + 1);
}

export function summarise(path: string): { totalMs: number; frames: FrameTime[]; groups: FrameTime[] } {
  const profile = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // Each sample's time is the delta to the next one.
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(at(profile.samples, i), (selfUs.get(at(profile.samples, i)) ?? 0) + delta);
  }
  const frames = new Map<string, FrameTime>();
  const groups = new Map<string, FrameTime>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || "(anonymous)";
    const group = groupOf(url, name);
    const key = url === "" ? name : `${name} ${shortUrl(url)}:${lineNumber + 1}`;
    const frame = frames.get(key) ?? { frame: key, group, selfMs: 0, percent: 0 };
    frame.selfMs += us / 1000;
    frames.set(key, frame);
    const g = groups.get(group) ?? { frame: group, group, selfMs: 0, percent: 0 };
    g.selfMs += us / 1000;
    groups.set(group, g);
  }
  const totalMs = totalUs / 1000;
  const finish = (list: FrameTime[]) =>
    list
      .map((f) => ({ ...f, percent: totalMs === 0 ? 0 : (100 * f.selfMs) / totalMs }))
      .sort((a, b) => b.selfMs - a.selfMs);
  return { totalMs, frames: finish([...frames.values()]), groups: finish([...groups.values()]) };
}

export function formatSummary(path: string, top = 30): string {
  const { totalMs, frames, groups } = summarise(path);
  const lines = [`${path}: ${(totalMs / 1000).toFixed(2)} s sampled`, "", "by source (self time):"];
  for (const g of groups.slice(0, 15)) lines.push(`  ${g.percent.toFixed(1).padStart(5)}%  ${g.frame}`);
  lines.push("", `top ${top} frames by self time:`);
  for (const f of frames.slice(0, top)) {
    lines.push(`  ${f.percent.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.frame}`);
  }
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write("usage: profile-summary.ts <file.cpuprofile> [top]\n");
    process.exit(2);
  }
  process.stdout.write(`${formatSummary(file, top ? Number(top) : 30)}\n`);
}
