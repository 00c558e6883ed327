// Headless SVG rendering of vega-lite specs, for `cwasi bench paper --out`.
//
// vega and vega-lite are optional peer dependencies (with their own 60-odd
// packages they were most of the install), so they are imported here, on
// first use, and nowhere else: every other command, the engine included,
// works without them. When they are absent the caller gets
// E_DEPENDENCY_MISSING naming what to install.

import { CwasiError } from 'cwasi';

/** The versions the plots are made and tested with (package.json devDependencies). */
export const PLOT_PACKAGES = 'vega@6.4.0 vega-lite@6.4.1';

/** A vega-lite specification (kept structural: the build must not need vega-lite's types either). */
export type VegaLiteSpec = { $schema: string } & Record<string, unknown>;

export type SpecToSvg = (spec: VegaLiteSpec) => Promise<string>;

/** The part of vega's API used here. */
interface Vega {
  Error: number;
  logger(level: number): unknown;
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, options: { renderer: 'none'; logLevel: number }) => { toSVG(): Promise<string>; finalize(): void };
}

/** The part of vega-lite's API used here. */
interface VegaLite {
  compile(spec: VegaLiteSpec, options: { logger: unknown }): { spec: unknown };
}

/** Imported by a name TypeScript does not resolve, so that building cwasi works without the packages. */
const VEGA = 'vega';
const VEGA_LITE = 'vega-lite';

let loading: Promise<SpecToSvg> | undefined;

function missing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

async function load(): Promise<SpecToSvg> {
  let vega: Vega;
  let vegaLite: VegaLite;
  try {
    [vega, vegaLite] = (await Promise.all([import(VEGA), import(VEGA_LITE)])) as [Vega, VegaLite];
  } catch (err) {
    if (!missing(err)) throw err;
    throw new CwasiError('E_DEPENDENCY_MISSING',
      `plots need the optional packages vega and vega-lite, which are not installed; run \`npm install ${PLOT_PACKAGES}\` (the benchmark itself runs without them when --out is not given)`,
      undefined, { cause: err });
  }
  // vega-lite reports resolved legend conflicts as warnings on stderr; they are expected here.
  const logger = vega.logger(vega.Error);
  return async (spec) => {
    const view = new vega.View(vega.parse(vegaLite.compile(spec, { logger }).spec), { renderer: 'none', logLevel: vega.Error });
    try {
      return await view.toSVG();
    } finally {
      view.finalize();
    }
  };
}

/** Loads vega and vega-lite once; rejects with E_DEPENDENCY_MISSING when either is absent. */
export function plotRenderer(): Promise<SpecToSvg> {
  loading ??= load();
  // A failed load is not cached: installing the packages fixes the next call.
  loading.catch(() => { loading = undefined; });
  return loading;
}
