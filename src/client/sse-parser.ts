export interface SseMessage {
  data: string;
  id?: string;
  event?: string;
}

/**
 * Incremental text/event-stream parser (the WHATWG rules that matter here): lines end in LF,
 * CRLF or CR, possibly split across chunks; `:` starts a comment; `data` lines join with LF;
 * a blank line dispatches. Feed it decoded text as it arrives.
 */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private id: string | undefined;
  private event: string | undefined;
  private readonly onMessage: (message: SseMessage) => void;
  /** Called for comment lines (the server's keep-alives). */
  private readonly onComment: () => void;

  constructor(onMessage: (message: SseMessage) => void, onComment: () => void = () => {}) {
    this.onMessage = onMessage;
    this.onComment = onComment;
  }

  feed(text: string): void {
    this.buffer += text;
    let start = 0;
    for (;;) {
      const cr = this.buffer.indexOf("\r", start);
      const lf = this.buffer.indexOf("\n", start);
      if (cr === -1 && lf === -1) break;
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A CR at the very end may be the first half of a CRLF: wait for more.
        if (cr === this.buffer.length - 1) break;
        end = cr;
        next = this.buffer[cr + 1] === "\n" ? cr + 2 : cr + 1;
      } else {
        end = lf;
        next = lf + 1;
      }
      this.line(this.buffer.slice(start, end));
      start = next;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === "") {
      if (this.data.length > 0) {
        const message: SseMessage = { data: this.data.join("\n") };
        if (this.id !== undefined) message.id = this.id;
        if (this.event !== undefined) message.event = this.event;
        this.onMessage(message);
      }
      this.data = [];
      this.event = undefined;
      return;
    }
    if (line.startsWith(":")) {
      this.onComment();
      return;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.id = value;
    else if (field === "event") this.event = value;
  }
}
