// Renders rows as a plain-text table with aligned columns (numbers right-aligned), and the value formats the tables use.

/** One column: its header, and whether its cells are right-aligned (numbers). */
export interface Column {
  readonly header: string;
  readonly right?: boolean;
}

/** Renders `rows` under `columns`, two spaces between columns, no trailing spaces. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, i) => Math.max(width(column.header), ...rows.map((row) => width(row[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        const pad = ' '.repeat((widths[i] as number) - width(cell));
        return column.right ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n');
}

/** Display width, counting each code point as one column (good enough for keys and host names). */
function width(text: string): number {
  return [...text].length;
}

/**
 * A key or name as one safe table cell: control characters escaped (`\n`, `\u001b`), everything
 * else as it is (a backslash too, so that a copied key is the key), at most `max` characters.
 */
export function cell(text: string, max = 40): string {
  // eslint-disable-next-line no-control-regex
  const safe = text.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\u007f' ? '\\u007f' : JSON.stringify(c).slice(1, -1)));
  const chars = [...safe];
  return chars.length <= max ? safe : `${chars.slice(0, max - 1).join('')}…`;
}

/** Milliseconds as a short duration: `850 ms`, `2.3 s`, `4 min 10 s`, `3 h 5 min`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.floor((ms % 3_600_000) / 60_000)} min`;
}

/** An interval as a policy writes it: `1s`, `500ms`, `1m`, `1h`, or `1500ms`. */
export function formatInterval(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A number with at most `digits` decimals and no trailing zeros. */
export function formatNumber(n: number, digits = 2): string {
  return String(Number(n.toFixed(digits)));
}
