/**
 * The drawn signature arrives as base64 PNG from the portal. It is decoded and fully parsed (pngjs checks the chunk
 * CRCs and inflates the pixels) before it reaches the database, so a stored image is always a readable PNG. An
 * all-white image is a valid signature: the seed's test data contains one, and judging strokes is not our job.
 */
import { PNG } from 'pngjs';
import { ErrorCode } from '../../domain/errors';
import { rejection } from './failures';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function decodeSignaturePng(base64: string, maxBytes: number, contractId: number): Buffer {
  // Browsers hand out data URLs; accept that prefix and line-wrapped base64.
  const payload = base64.replace(/^data:image\/png;base64,/i, '').replace(/\s+/g, '');
  if (payload.length === 0 || payload.length % 4 !== 0 || !BASE64.test(payload)) {
    throw rejection(
      ErrorCode.INVALID_SIGNATURE_INPUT,
      `The signature image for contract ${contractId} is not base64.`,
      {
        contractId,
      }
    );
  }
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length > maxBytes) {
    throw rejection(
      ErrorCode.INVALID_SIGNATURE_INPUT,
      `The signature image for contract ${contractId} has ${bytes.length} bytes, more than the allowed ${maxBytes}.`,
      { contractId }
    );
  }
  try {
    const png = PNG.sync.read(bytes);
    if (png.width < 1 || png.height < 1) throw new Error('empty image');
  } catch {
    throw rejection(
      ErrorCode.INVALID_SIGNATURE_INPUT,
      `The signature image for contract ${contractId} is not a valid PNG.`,
      {
        contractId,
      }
    );
  }
  return bytes;
}
