/**
 * Registers signflow's custom search attributes through the OperatorService, for servers that are not started with
 * `--search-attribute` flags: the time-skipping test server (which refuses unregistered ones at workflow start) and
 * an existing cluster. Already registered ones are fine.
 */
import type { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { SEARCH_ATTRIBUTES } from '../workflows/definitions';

/** 'Int' → 'INT', 'KeywordList' → 'KEYWORD_LIST': the CLI's spelling to the proto enum's. */
function toEnumName(type: string): Parameters<typeof encodeSearchAttributeIndexedValueType>[0] {
  return type.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase() as Parameters<
    typeof encodeSearchAttributeIndexedValueType
  >[0];
}

export async function registerSearchAttributes(
  connection: Connection,
  namespace = 'default',
  attributes: Record<string, string> = SEARCH_ATTRIBUTES
): Promise<void> {
  const searchAttributes: Record<string, number> = {};
  for (const [name, type] of Object.entries(attributes)) {
    const encoded = encodeSearchAttributeIndexedValueType(toEnumName(type));
    if (encoded === undefined) throw new Error(`unknown search attribute type ${type} for ${name}`);
    searchAttributes[name] = encoded;
  }
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  } catch (err) {
    // ALREADY_EXISTS (gRPC 6): a restarted dev stack or a cluster set up before.
    if ((err as { code?: number }).code !== 6) throw err;
  }
}
