/**
 * Which of the eHBA's QES keys signs a SignDocument call, as gemILF_PS (Tab_ILF_PS_Steuerung_Signaturalgorithmus)
 * describes it:
 *
 * | `SIG:Crypt` | card with RSA only (object system < 4.4.0) | G2.1 card (≥ 4.4.0: ECC and RSA) |
 * | ----------- | ------------------------------------------ | -------------------------------- |
 * | absent      | RSA                                        | ECC                              |
 * | `ECC`       | error                                      | ECC                              |
 * | `RSA`       | RSA                                        | RSA                              |
 * | `RSA_ECC`   | RSA                                        | ECC                              |
 *
 * `Crypt` exists in the 7.4.4 and 7.5.x schemas only; on a 7.4.0 endpoint it is always absent. The spec names no code
 * for "ECC asked of an RSA-only card": the simulator answers 4000 (the call's arguments cannot be served).
 */
import type { HbaKeyAlgorithm } from './pki';

export type CryptValue = 'RSA' | 'ECC' | 'RSA_ECC';

/** The keys of an eHBA by the simulator's `hba.qesKey` option: a G2.1 card has both, an older card RSA only. */
export function qesKeysOfCard(defaultKey: HbaKeyAlgorithm): HbaKeyAlgorithm[] {
  return defaultKey === 'ECC' ? ['ECC', 'RSA'] : ['RSA'];
}

/** The object system version a card with these keys reports in GetCards (≥ 4.4.0 means G2.1, ECC-capable). */
export function objectSystemVersionOf(keys: readonly HbaKeyAlgorithm[]): [number, number, number] {
  return keys.includes('ECC') ? [4, 5, 0] : [4, 3, 0];
}

export class CryptNotServable extends Error {}

/**
 * The key to sign with for `crypt` (the request's `SIG:Crypt` text, undefined when absent) on a card holding `keys`.
 * Throws `CryptNotServable` for a value outside the schema's enumeration or ECC on an RSA-only card.
 */
export function qesKeyFor(keys: readonly HbaKeyAlgorithm[], crypt: string | undefined): HbaKeyAlgorithm {
  if (crypt !== undefined && crypt !== 'RSA' && crypt !== 'ECC' && crypt !== 'RSA_ECC') {
    throw new CryptNotServable(`Crypt ${crypt} ist nicht RSA, ECC oder RSA_ECC`);
  }
  const hasEcc = keys.includes('ECC');
  if (crypt === 'RSA') return 'RSA';
  if (hasEcc) return 'ECC';
  if (crypt === 'ECC')
    throw new CryptNotServable('Crypt ECC: die Karte hat keinen ECC-Schlüssel (Objektsystem < 4.4.0)');
  return 'RSA';
}
