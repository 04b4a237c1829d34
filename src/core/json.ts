/**
 * True when some JSON object in `text` names the same member twice.
 * JSON.parse keeps the last one silently, which lets a token say one thing to
 * us and another to a verifier that keeps the first (RFC 7515 §4, RFC 8725 §3.1
 * ask for rejection). `text` must be valid JSON (call after JSON.parse succeeds).
 */
export function hasDuplicateMembers(text: string): boolean {
  // One entry per open container: the member names seen so far, or null for an array.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) {
          escaped = true;
          j += 2;
          continue;
        }
        if (d === 0x22) break;
        j++;
      }
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        // Escapes can spell one name two ways ("a" and "\u0061"): compare decoded names.
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (top.has(key)) return true;
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return false;
}
