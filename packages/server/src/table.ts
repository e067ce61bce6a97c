/**
 * Plain-text tables and durations for the CLI's human output (`status`, `api-keys list`). No
 * colours or box drawing: the output is meant to be read in a terminal and grepped in a script.
 */

/**
 * Left-aligned columns separated by two spaces, with a header row.
 *
 * @example
 * formatTable(['ID', 'CHAIN'], [['T1', 'bot']]); // "ID  CHAIN\nT1  bot\n"
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/**
 * A duration as an operator reads it: `11h 58m`, `3m 20s`, `2d 4h`; whole units only, the two
 * largest.
 */
export function formatDuration(ms: number): string {
  const seconds = Math.floor(Math.abs(ms) / 1000);
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m ${rest}s`;
  return `${rest}s`;
}

/** Time to an expiry: `11h 58m`, or `expired 3m 0s ago`. */
export function formatTimeToExpiry(expiresAt: number, now: number): string {
  const left = expiresAt - now;
  return left > 0 ? formatDuration(left) : `expired ${formatDuration(left)} ago`;
}
