/**
 * Where a reconnect storm's server CPU went: the main thread's samples of a `--cpu-prof` profile
 * between the cut and the moment every client was back and delivered (the storm's
 * `profileWindowUs`), each attributed by its call stack to one step of a reconnect.
 *
 *   node --import tsx bench/storm-profile.ts <file.cpuprofile> <fromUs> <toUs>
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * The steps, first match wins, each a test on the stack (leaf first) of "function url" labels.
 * Ordered so that the most specific step claims a sample: the store's commit of the message
 * before the frames it causes, the close of a reset socket before the reads that found it.
 */
const STEPS: [string, (stack: string[]) => boolean][] = [
  ["garbage collection", (s) => s[0] === "(garbage collector) "],
  ["idle", (s) => s[0] === "(idle) "],
  [
    "close of reset sockets (ECONNRESET, destroy, stream stop)",
    (s) =>
      s.some(
        (l) =>
          /^(Writable\.destroy|destroy|emitErrorNT|emitErrorCloseNT|emitCloseNT|onEnd|socketOnClose|ErrnoException|closeSocketHandle) /.test(
            l,
          ) || /^stop (src|dist)\/core\/stream/.test(l),
      ),
  ],
  [
    "token verification",
    (s) => s.some((l) => /^(authenticateClaims|bearer|verify\w*) .*(src|dist)\/(http|core)\/auth/.test(l)),
  ],
  [
    "stream start: store reads (head, page after the cursor)",
    (s) => s.some((l) => /^(eventsSince|head) (src|dist)\/stores/.test(l)),
  ],
  [
    "stream start: hello, replayed events, hub attach",
    (s) => s.some((l) => /^(start|hello|writeStored) (src|dist)\/core\/stream/.test(l)),
  ],
  ["ws handshake (101, accept key)", (s) => s.some((l) => /^(handleUpgrade|completeUpgrade) ws\//.test(l))],
  [
    "message: store commit (SQLite transaction)",
    (s) => s.some((l) => /^(flush|sendNow|appendMessage|writeSummaries) (src|dist)\/stores/.test(l)),
  ],
  [
    "message: frame in, checks, fan-out",
    (s) =>
      s.some((l) =>
        /^(socketOnData ws|(onMessage|frame|onFrame|delivered) (src|dist)\/|send (src|dist)\/core)/.test(l),
      ),
  ],
  [
    "frames out (101 + hello, results, events: socket writes)",
    (s) => s.some((l) => /^(flushFrames|writeOut|Writable\.uncork) /.test(l)),
  ],
  [
    "admission (upgrade route, URL, query, limits)",
    (s) => s.some((l) => /(src|dist)\/(server|transports\/cursor)/.test(l)),
  ],
  [
    "accept + HTTP upgrade request parse",
    (s) =>
      s.some((l) =>
        /^(onconnection|onParserExecute|parserOnIncoming|parserOnHeadersComplete|Socket|connectionListener) /.test(
          l,
        ),
      ),
  ],
  ["other", () => true],
];

function label(node: ProfileNode): string {
  const url = node.callFrame.url.replace(/.*node_modules\//, "").replace(/.*\/(src|dist)\//, "$1/");
  return `${node.callFrame.functionName || "(anonymous)"} ${url}`;
}

export function attribute(path: string, fromUs: number, toUs: number): { step: string; ms: number }[] {
  const profile = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stacks = new Map<number, string>();
  const totals = new Map<string, number>(STEPS.map(([name]) => [name, 0]));
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const id = profile.samples[i]!;
    let step = stacks.get(id);
    if (step === undefined) {
      const stack: string[] = [];
      for (let x: number | undefined = id; x !== undefined; x = parent.get(x))
        stack.push(label(byId.get(x)!));
      step = STEPS.find(([, test]) => test(stack))![0];
      stacks.set(id, step);
    }
    totals.set(step, totals.get(step)! + (profile.timeDeltas[i + 1] ?? 0) / 1000);
  }
  return [...totals].map(([step, ms]) => ({ step, ms }));
}

/** The attribution as a table: ms, share of the busy (non-idle) time, µs per reconnect. */
export function formatAttribution(path: string, fromUs: number, toUs: number, reconnects: number): string {
  const rows = attribute(path, fromUs, toUs);
  const busy = rows.filter((r) => r.step !== "idle").reduce((s, r) => s + r.ms, 0);
  const lines = [
    `main thread from the cut until all back and delivered: ${busy.toFixed(0)} ms busy (under the profiler)`,
    "| step | ms | share | µs per reconnect |",
    "|---|---:|---:|---:|",
  ];
  for (const r of rows.filter((r) => r.step !== "idle").sort((a, b) => b.ms - a.ms)) {
    lines.push(
      `| ${r.step} | ${r.ms.toFixed(0)} | ${((100 * r.ms) / busy).toFixed(1)} % | ${((1000 * r.ms) / reconnects).toFixed(0)} |`,
    );
  }
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, from, to, n] = process.argv.slice(2);
  if (!file || !from || !to) {
    process.stderr.write("usage: storm-profile.ts <file.cpuprofile> <fromUs> <toUs> [reconnects]\n");
    process.exit(2);
  }
  process.stdout.write(`${formatAttribution(file, Number(from), Number(to), Number(n ?? 1))}\n`);
}
