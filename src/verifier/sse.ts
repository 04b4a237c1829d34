/** One dispatched Server-Sent Event (WHATWG HTML, "Server-sent events", parsing). */
export interface SseMessage {
  /** The last event ID seen on this stream, if any. */
  id: string | undefined;
  event: string;
  data: string;
}

/** A line longer than this means the peer is not an event stream: give up on it. */
const MAX_BUFFER = 1 << 20;

/**
 * A small incremental parser for `text/event-stream`: feed it decoded text in
 * any chunking; it calls back per event and per comment line (`: ping`).
 * Lines end in CRLF, LF or CR; a CR at the end of a chunk waits for the next
 * one in case an LF follows.
 */
export class SseParser {
  private buf = '';
  private data: string[] = [];
  private event = '';
  private lastId: string | undefined;

  constructor(
    private readonly onMessage: (m: SseMessage) => void,
    private readonly onComment: (text: string) => void = () => {},
  ) {}

  push(chunk: string): void {
    this.buf += chunk;
    for (;;) {
      let i = -1;
      for (let j = 0; j < this.buf.length; j++) {
        const c = this.buf.charCodeAt(j);
        if (c === 10 || c === 13) {
          i = j;
          break;
        }
      }
      if (i < 0) break;
      const cr = this.buf.charCodeAt(i) === 13;
      if (cr && i === this.buf.length - 1) break;
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + (cr && this.buf.charCodeAt(i + 1) === 10 ? 2 : 1));
      this.line(line);
    }
    if (this.buf.length > MAX_BUFFER) throw new Error('an event-stream line is longer than 1 MiB');
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return this.onComment(line.slice(1).trimStart());
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      default: // "retry" and unknown fields are ignored: the reconnect policy is ours
    }
  }

  private dispatch(): void {
    const event = this.event || 'message';
    this.event = '';
    if (this.data.length === 0) return;
    const data = this.data.join('\n');
    this.data = [];
    this.onMessage({ id: this.lastId, event, data });
  }
}
