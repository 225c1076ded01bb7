/**
 * etcdctl's `-w table`: olekukonko/tablewriter (v0.0.5 in etcd 3.5) as etcdctl sets it up: the
 * header upper-cased and centred, the cells right-aligned, one space of padding, `+-|` borders,
 * and cells wider than 30 columns wrapped at spaces with tablewriter's minimal-raggedness rule.
 */

const MAX_WIDTH = 30;
const TOO_LONG_PENALTY = 1e5;

/** Renders a table as etcdctl prints it (every line ends with a newline). */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const columns = header.length;
  const head = header.map((h) => wrapCell(title(h)));
  const body = rows.map((row) => Array.from({ length: columns }, (_, i) => wrapCell(row[i] ?? "")));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...[head[i] ?? [], ...body.map((r) => r[i] ?? [])].flat().map(width)));
  const border = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+\n`;
  let out = border + lines(head, widths, center) + border;
  for (const row of body) out += lines(row, widths, (text, w) => " ".repeat(w - width(text)) + text);
  return out + border;
}

/** One table row, as many lines as its tallest cell. */
function lines(cells: readonly (readonly string[])[], widths: readonly number[], pad: (text: string, width: number) => string): string {
  const height = Math.max(1, ...cells.map((c) => c.length));
  let out = "";
  for (let line = 0; line < height; line++) {
    out += `|${widths.map((w, i) => ` ${pad(cells[i]?.[line] ?? "", w)} `).join("|")}|\n`;
  }
  return out;
}

function center(text: string, w: number): string {
  const gap = w - width(text);
  const left = Math.floor(gap / 2);
  return " ".repeat(left) + text + " ".repeat(gap - left);
}

/** tablewriter's `Title`: underscores (and dots between letters) become spaces, then upper case. */
function title(name: string): string {
  const chars = Array.from(name);
  const numOrSpace = (c: string | undefined): boolean => c === undefined || /[0-9 ]/.test(c);
  const mapped = chars.map((c, i) => {
    if (c === "_") return " ";
    if (c === "." && (!numOrSpace(i === 0 ? undefined : chars[i - 1]) || !numOrSpace(chars[i + 1]))) return " ";
    return c;
  });
  const trimmed = mapped.join("").trim();
  return (trimmed === "" && name !== "" ? " " : trimmed).toUpperCase();
}

function width(text: string): number {
  return Array.from(text).length;
}

/** A cell's lines: each paragraph wrapped to at most 30 columns unless one word is wider. */
function wrapCell(text: string): string[] {
  const paragraphs = text.split("\n");
  const widest = Math.max(...paragraphs.map(width));
  const limit = Math.min(widest, MAX_WIDTH);
  const out: string[] = [];
  paragraphs.forEach((para, i) => {
    if (i > 0) out.push(" ");
    out.push(...wrapString(para, limit));
  });
  return out;
}

/** tablewriter's `WrapString`: words split at single spaces, broken with the least raggedness. */
function wrapString(text: string, limit: number): string[] {
  const words = text.split(" ");
  const lim = Math.max(limit, ...words.map(width));
  return wrapWords(words, lim).map((line) => line.join(" "));
}

function wrapWords(words: readonly string[], lim: number): string[][] {
  const n = words.length;
  const length = (i: number, j: number): number => words.slice(i, j + 1).reduce((sum, w) => sum + width(w), 0) + (j - i);
  const breakAt = new Array<number>(n).fill(n);
  const cost = new Array<number>(n).fill(Number.MAX_SAFE_INTEGER);
  for (let i = n - 1; i >= 0; i--) {
    if (length(i, n - 1) <= lim) {
      cost[i] = 0;
      breakAt[i] = n;
      continue;
    }
    for (let j = i + 1; j < n; j++) {
      const d = lim - length(i, j - 1);
      let c = d * d + (cost[j] ?? 0);
      if (length(i, j - 1) > lim) c += TOO_LONG_PENALTY;
      if (c < (cost[i] ?? 0)) {
        cost[i] = c;
        breakAt[i] = j;
      }
    }
  }
  const out: string[][] = [];
  for (let i = 0; i < n; i = breakAt[i] ?? n) out.push(words.slice(i, breakAt[i]));
  return out;
}
