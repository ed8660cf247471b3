/**
 * The shell examples of the docs: every fenced `sh` block of README.md and docs/*.md, with the
 * annotation an HTML comment on the line before it may give (invisible once rendered):
 *   <!-- doc-test: skip: <why> -->                   not run (long-lived listeners, installs, benchmarks)
 *   <!-- doc-test: server [listening=N] [keep] -->   starts servers: run in the background until N
 *                                                   (default 1) duet processes log "listening";
 *                                                   `keep` leaves them running for the file's next blocks
 *   <!-- doc-test: package [file=NAME] -->           the install route and the app code of "Use duet
 *                                                   from your app": run by test/package/, in a scratch
 *                                                   app (`file=` writes a code block to that file)
 * A block without an annotation runs to its end against a dev server (`npm start`).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { at } from "../helpers/kit.js";

export type Mode = "run" | "server" | "skip" | "package";

export interface ShellBlock {
  /** Path relative to the repository root. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  mode: Mode;
  /** skip: why. */
  reason?: string;
  /** server: how many "listening" lines mean it is up. */
  listening: number;
  /** server: leave it running for the file's next blocks. */
  keep: boolean;
  /** package: the file a code block is written to. */
  fileName?: string;
  lang: string;
}

const SHELL_LANGS = new Set(["sh", "bash", "shell", "console", "zsh"]);

export function docFiles(root: string): string[] {
  const docs = readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`);
  return ["README.md", ...docs];
}

/** Parses one Markdown file's shell blocks; throws on an annotation it does not understand. */
export function shellBlocks(root: string, file: string): ShellBlock[] {
  return fencedBlocks(root, file).filter((b) => SHELL_LANGS.has(b.lang));
}

/** The blocks of any language annotated `package`, in order. */
export function packageBlocks(root: string, file: string): ShellBlock[] {
  return fencedBlocks(root, file).filter((b) => b.mode === "package");
}

function fencedBlocks(root: string, file: string): ShellBlock[] {
  const lines = readFileSync(join(root, file), "utf8").split("\n");
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(at(lines, i));
    if (!open) continue;
    const fence = at(open, 2);
    const lang = at(open, 3).toLowerCase();
    let end = i + 1;
    while (end < lines.length && !at(lines, end).trimStart().startsWith(fence)) end++;
    const block: ShellBlock = {
      file,
      line: i + 1,
      code: lines.slice(i + 1, end).join("\n"),
      mode: "run",
      listening: 1,
      keep: false,
      lang,
    };
    const note = /^<!--\s*doc-test:\s*(.*?)\s*-->\s*$/.exec(lines[i - 1] ?? "");
    if (note) annotate(block, at(note, 1));
    blocks.push(block);
    i = end;
  }
  return blocks;
}

function annotate(block: ShellBlock, text: string): void {
  const where = `${block.file}:${block.line}`;
  const skip = /^skip:\s*(\S.*)$/.exec(text);
  if (skip) {
    block.mode = "skip";
    block.reason = skip[1];
    return;
  }
  const words = text.split(/\s+/);
  if (words[0] === "package") {
    block.mode = "package";
    for (const word of words.slice(1)) {
      const name = /^file=([\w.-]+)$/.exec(word);
      if (name) block.fileName = name[1];
      else throw new Error(`${where}: unknown doc-test option "${word}"`);
    }
    return;
  }
  if (words[0] !== "server") throw new Error(`${where}: unknown doc-test annotation "${text}"`);
  block.mode = "server";
  for (const word of words.slice(1)) {
    const n = /^listening=(\d+)$/.exec(word);
    if (n) block.listening = Number(n[1]);
    else if (word === "keep") block.keep = true;
    else throw new Error(`${where}: unknown doc-test option "${word}"`);
  }
}
