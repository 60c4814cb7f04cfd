/** jest globalTeardown: removes the workflow bundle written by the globalSetup. */
import fs from 'node:fs';
import { BUNDLE_DIR_ENV } from './global-setup';

export default function globalTeardown(): void {
  const dir = process.env[BUNDLE_DIR_ENV];
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
