/**
 * Go's `text/tabwriter` as etcdctl's help uses it (minwidth 0, tabwidth 8, padding 1, padded
 * with tabs): a tab ends a cell, and the cells of one column are aligned across each run of
 * consecutive lines that have that column. The text after a line's last tab is not aligned.
 */

const TAB_WIDTH = 8;
const PADDING = 1;

/** Aligns `text` as `tabwriter.NewWriter(w, 0, 8, 1, '\t', 0)` would. */
export function tabAlign(text: string): string {
  const lines = text.split("\n").map((line) => line.split("\t"));
  const widthOf = (cell: string): number => Array.from(cell).length;
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const cells = lines[i] ?? [];
    let line = "";
    for (let col = 0; col < cells.length - 1; col++) {
      const cell = cells[col] ?? "";
      const width = roundUp(columnWidth(lines, i, col, widthOf));
      line += cell + "\t".repeat(Math.ceil((width - widthOf(cell)) / TAB_WIDTH));
    }
    out.push(line + (cells[cells.length - 1] ?? ""));
  }
  return out.join("\n");
}

/** The widest cell (plus padding) of column `col` in the run of lines around `row` that have that column. */
function columnWidth(lines: readonly (readonly string[])[], row: number, col: number, widthOf: (cell: string) => number): number {
  const has = (i: number): boolean => (lines[i]?.length ?? 0) - 1 > col;
  let first = row;
  while (first > 0 && has(first - 1)) first--;
  let width = 0;
  for (let i = first; i < lines.length && has(i); i++) width = Math.max(width, widthOf(lines[i]?.[col] ?? "") + PADDING);
  return width;
}

function roundUp(width: number): number {
  return Math.ceil(width / TAB_WIDTH) * TAB_WIDTH;
}
