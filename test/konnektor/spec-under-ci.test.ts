/**
 * The Konnektor schema tests skip locally when the official gematik files or xmllint are missing, but under CI=true
 * that must fail the run (as a missing MariaDB or Chromium does): checked here on the helper every schema suite uses.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { skipReason, SPEC_DIR, specAvailable } from './helpers';

const missingDir = path.join(os.tmpdir(), 'signflow-no-such-konnektor-spec');

describe('skipReason', () => {
  test('without the schema folder: a reason naming the folder locally, an error naming it under CI=true', () => {
    expect(fs.existsSync(missingDir)).toBe(false);
    expect(skipReason(false, { env: {}, specDir: missingDir })).toBe(
      `official gematik schemas not found at ${missingDir}`
    );
    expect(() => skipReason(false, { env: { CI: 'true' }, specDir: missingDir })).toThrow(
      `official gematik schemas not found at ${missingDir}: under CI=true the Konnektor schema tests must run, not skip`
    );
    // Any other value of CI is a local run.
    expect(skipReason(true, { env: { CI: 'false' }, specDir: missingDir })).toMatch(/not found at/);
  });

  (specAvailable() ? test : test.skip)('without xmllint: skipped locally, an error under CI=true', () => {
    const xmllint = 'signflow-no-such-xmllint';
    expect(skipReason(true, { env: {}, xmllint })).toBe(
      'xmllint not installed (Debian: apt-get install libxml2-utils)'
    );
    expect(() => skipReason(true, { env: { CI: 'true' }, xmllint })).toThrow(
      /^xmllint not installed .*: under CI=true the Konnektor schema tests must run, not skip$/
    );
    // The SDS tests do not need xmllint.
    expect(skipReason(false, { env: { CI: 'true' }, xmllint })).toBeUndefined();
  });

  test('the real folder is where the README says: beside the repository, ../shared/konnektor-spec', () => {
    expect(path.relative(path.resolve(__dirname, '../..'), SPEC_DIR)).toBe(path.join('..', 'shared', 'konnektor-spec'));
  });
});
