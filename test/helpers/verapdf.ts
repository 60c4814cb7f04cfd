/**
 * veraPDF (installed by scripts/install-verapdf.sh into .tools/verapdf) for the PDF/A tests: runs it against PDF/A-3b
 * and reads its machine-readable report. Tests use `describeWithJava`: without Java they skip and say so, except under
 * CI=true, where Java is part of the machine and they must run.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const VERAPDF = path.resolve(__dirname, '../../.tools/verapdf/verapdf');

function javaAvailable(): boolean {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const haveJava = javaAvailable();
if (!haveJava && process.env.CI !== 'true') {
  console.warn('skipping the veraPDF PDF/A tests: no java on PATH (veraPDF is a Java program)');
}
export const withJava = haveJava || process.env.CI === 'true';

export interface VeraResult {
  compliant: boolean;
  failedRules: string[];
}

/** Validates files as PDF/A-3b; one result per file path. Throws when veraPDF is not installed. */
export function verapdf(files: string[]): Promise<Map<string, VeraResult>> {
  if (!fs.existsSync(VERAPDF)) {
    throw new Error(`veraPDF is not installed at ${VERAPDF}: run bash scripts/install-verapdf.sh (needs java and mvn)`);
  }
  return new Promise((resolve, reject) => {
    execFile(VERAPDF, ['--flavour', '3b', '--format', 'mrr', ...files], { maxBuffer: 64 * 1024 * 1024 }, (err, out) => {
      // veraPDF exits 1 when a file is not compliant; the report is still complete.
      if (err && !out) return reject(err);
      const results = new Map<string, VeraResult>();
      for (const job of out.split('<job>').slice(1)) {
        const file = /<item size="\d+">\s*<name>([^<]+)<\/name>/.exec(job)?.[1];
        const report = /<validationReport [^>]*isCompliant="(true|false)"/.exec(job);
        if (!file || !report) continue;
        const failedRules = [
          ...job.matchAll(/<rule [^>]*clause="([^"]+)"[^>]*testNumber="(\d+)"[^>]*status="failed"/g),
        ].map((m) => `${m[1]}-${m[2]}`);
        results.set(file, { compliant: report[1] === 'true', failedRules });
      }
      resolve(results);
    });
  });
}
