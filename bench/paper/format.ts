// Number formatting shared by the text table (tables.ts), the goals (goals.ts),
// the plots (plot-specs.ts) and the HTML page (html.ts): measured values to three
// significant digits, published values exactly as the reference file has them,
// and "–" wherever a value is missing, so that every view prints the same figure.

export const MISSING = '–';

/** Three significant digits, no exponent for ordinary magnitudes; "–" for missing values. */
export function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return MISSING;
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return String(Math.round(v));
  if (a < 1e-4) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

/** A published value exactly as the reference file has it; "–" when missing. */
export function fmtPaper(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? MISSING : String(v);
}

export function fmtRatio(v: number | undefined): string {
  return v === undefined ? MISSING : `${fmt(v)}×`;
}

export function fmtMiB(mib: number): string {
  return String(Number(mib.toPrecision(4)));
}

export const METRIC_SHORT: Record<string, string> = {
  latency_mean: 'mean',
  latency_sum_of_10: 'sum of 10',
  duration_mean: 'end-to-end',
};
