/**
 * The one `DataConverter` of signflow, built from the config, for the worker, the workflow bundle and every client
 * (API, CLI, outbox poller, tests): all sides must encrypt and decrypt alike.
 */
import type { DataConverter } from '@temporalio/common';
import type { SignflowConfig } from '../temporal.config';
import { codecFromConfig, UnkeyedPayloadCodec } from './aes-gcm-codec';

/**
 * Path of the failure converter module (`encodeCommonAttributes: true`). A worker that bundles its workflow code
 * ahead of time must also pass it to `bundleWorkflowCode({ failureConverterPath })`: the sandbox uses the bundle's
 * converter and ignores the worker's `dataConverter.failureConverterPath`.
 */
export const FAILURE_CONVERTER_PATH: string = require.resolve('./failure-converter');

/**
 * The data converter for the configured codec keys (always with the failure converter, so failure messages are
 * payloads the codec sees). Without keys nothing is encrypted, and a payload that was (a history written by a worker
 * with keys) fails with `CodecKeyNotFoundError` naming the key id it needs, instead of the SDK's "Unknown encoding".
 */
export function createDataConverter(config: Pick<SignflowConfig, 'codec'>): DataConverter {
  const codec = codecFromConfig(config.codec) ?? new UnkeyedPayloadCodec();
  return { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH };
}
