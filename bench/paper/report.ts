// The files that `cwasi bench paper --out DIR` writes: every plot as NAME.svg
// (plots.ts) and the page as index.html (html.ts). The only module of the paper
// report that touches the disk.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchMeta } from '../common.js';
import type { PaperBenchRow } from './model.js';
import { renderSvgPlots } from './plots.js';
import { renderHtml } from './html.js';

/** Writes every plot as NAME.svg and the page as index.html into `outDir`; returns the paths written. */
export async function writeReport(outDir: string, rows: readonly PaperBenchRow[], meta: BenchMeta): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const svgs = await renderSvgPlots(rows);
  const paths: string[] = [];
  for (const p of svgs) {
    const path = join(outDir, `${p.name}.svg`);
    await writeFile(path, p.svg + '\n');
    paths.push(path);
  }
  const index = join(outDir, 'index.html');
  await writeFile(index, renderHtml(rows, meta, svgs));
  paths.push(index);
  return paths;
}
