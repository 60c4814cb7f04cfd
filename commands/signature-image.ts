/**
 * The drawn signature is checked here (every door), before it reaches the workflow: a real PNG (decoded with pngjs, not just a magic
 * number), within the configured byte size and a sane pixel size. The header is read before decoding, so a tiny file
 * that claims to be 100 000 × 100 000 pixels is refused without allocating its pixels.
 */
import { PNG } from 'pngjs';
import { CommandError, CommandErrorCode } from './errors';

/** Larger than any signature pad; keeps a decoded image at most 4096 × 4096 × 4 bytes = 64 MiB. */
export const MAX_IMAGE_PIXELS = 4096 * 4096;

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface CheckedPng {
  bytes: Buffer;
  width: number;
  height: number;
}

function invalid(message: string): CommandError {
  return new CommandError(CommandErrorCode.INVALID_SIGNATURE_INPUT, message);
}

function tooLarge(message: string): CommandError {
  return new CommandError(CommandErrorCode.IMAGE_TOO_LARGE, message);
}

/** Decodes and checks a base64 PNG; throws IMAGE_TOO_LARGE or INVALID_SIGNATURE_INPUT saying what is wrong. */
export function checkSignaturePng(base64: string, maxBytes: number): CheckedPng {
  // A data URL is what canvas.toDataURL() gives; accept it so portals need not strip it.
  const payload = base64.replace(/^data:image\/png;base64,/, '').replace(/\s+/g, '');
  if (payload.length === 0 || payload.length % 4 !== 0 || !BASE64.test(payload)) {
    throw invalid('imagePngBase64 is not valid base64');
  }
  const approxBytes = (payload.length / 4) * 3;
  if (approxBytes - 2 > maxBytes) {
    throw tooLarge(`the signature image has about ${Math.round(approxBytes)} bytes; at most ${maxBytes} are accepted`);
  }
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length > maxBytes) {
    throw tooLarge(`the signature image has ${bytes.length} bytes; at most ${maxBytes} are accepted`);
  }
  if (bytes.length < 33 || !bytes.subarray(0, 8).equals(PNG_MAGIC) || bytes.toString('latin1', 12, 16) !== 'IHDR') {
    throw invalid('the signature image is not a PNG file');
  }
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  if (width === 0 || height === 0 || width * height > MAX_IMAGE_PIXELS) {
    throw tooLarge(
      `the signature image is ${width} × ${height} pixels; at most ${MAX_IMAGE_PIXELS} pixels are accepted`
    );
  }
  try {
    const png = PNG.sync.read(bytes);
    return { bytes, width: png.width, height: png.height };
  } catch (err) {
    throw invalid(`the signature image is not a readable PNG: ${(err as Error).message}`);
  }
}
