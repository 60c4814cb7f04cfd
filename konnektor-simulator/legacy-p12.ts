/**
 * A PKCS#12 the old way (as `openssl pkcs12 -export` wrote it before OpenSSL 3 and as older Konnektor firmware still
 * exports it): certificates encrypted with pbeWithSHAAnd40BitRC2-CBC, the key with pbeWithSHAAnd3-KeyTripleDES-CBC,
 * HMAC-SHA1. Node 20's OpenSSL 3 refuses RC2 without the legacy provider, so the simulator issuing this kind by default
 * proves that the client's node-forge fallback works. forge can read but not write RC2, hence this small builder.
 */
import forge from 'node-forge';

const { asn1, pki } = forge;

/** The parts of forge's API this file uses that @types/node-forge does not declare. */
const forgeExtra = forge as unknown as {
  util: { ByteBuffer: new (bytes?: string) => forge.util.ByteStringBuffer };
  pki: {
    pbe: {
      generatePkcs12Key(
        password: string,
        salt: forge.util.ByteStringBuffer,
        id: number,
        iter: number,
        n: number
      ): forge.util.ByteStringBuffer;
    };
  };
};
const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;

const ITERATIONS = 2048;

function oid(name: string): forge.asn1.Asn1 {
  const o = pki.oids[name];
  if (!o) throw new Error(`unknown OID name ${name}`);
  return asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes());
}

function octets(bytes: string): forge.asn1.Asn1 {
  return asn1.create(U, T.OCTETSTRING, false, bytes);
}

function int(n: number): forge.asn1.Asn1 {
  return asn1.create(U, T.INTEGER, false, asn1.integerToDer(n).getBytes());
}

function seq(items: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(U, T.SEQUENCE, true, items);
}

function explicit0(items: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, items);
}

function pbeParams(salt: string): forge.asn1.Asn1 {
  return seq([octets(salt), int(ITERATIONS)]);
}

function localKeyIdAttrs(cert: forge.pki.Certificate): forge.asn1.Asn1 {
  const sha1 = forge.md.sha1.create();
  sha1.update(asn1.toDer(pki.certificateToAsn1(cert)).getBytes());
  return asn1.create(U, T.SET, true, [
    seq([oid('localKeyId'), asn1.create(U, T.SET, true, [octets(sha1.digest().getBytes())])]),
  ]);
}

export function buildLegacyP12(
  key: forge.pki.rsa.PrivateKey,
  chain: forge.pki.Certificate[],
  password: string
): Buffer {
  const leaf = chain[0];
  if (!leaf) throw new Error('chain is empty');
  const attrs = localKeyIdAttrs(leaf);

  // Certificates: SafeContents of CertBags, encrypted with RC2-40 (PKCS#7 EncryptedData).
  const certBags = chain.map((cert, i) =>
    seq([
      oid('certBag'),
      explicit0([
        seq([oid('x509Certificate'), explicit0([octets(asn1.toDer(pki.certificateToAsn1(cert)).getBytes())])]),
      ]),
      ...(i === 0 ? [attrs] : []),
    ])
  );
  const certSalt = forge.random.getBytesSync(8);
  const saltBuf = () => new forgeExtra.util.ByteBuffer(certSalt);
  const rc2Key = forgeExtra.pki.pbe.generatePkcs12Key(password, saltBuf(), 1, ITERATIONS, 5);
  const rc2Iv = forgeExtra.pki.pbe.generatePkcs12Key(password, saltBuf(), 2, ITERATIONS, 8);
  const rc2 = forge.rc2.createEncryptionCipher(rc2Key, 40);
  rc2.start(rc2Iv);
  rc2.update(asn1.toDer(seq(certBags)));
  rc2.finish();
  const encryptedCerts = seq([
    oid('encryptedData'),
    explicit0([
      seq([
        int(0),
        seq([
          oid('data'),
          seq([oid('pbewithSHAAnd40BitRC2-CBC'), pbeParams(certSalt)]),
          // encryptedContent [0] IMPLICIT OCTET STRING
          asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, rc2.output.getBytes()),
        ]),
      ]),
    ]),
  ]);

  // Key: PKCS#8 ShroudedKeyBag with 3DES.
  const shrouded = pki.encryptPrivateKeyInfo(pki.wrapRsaPrivateKey(pki.privateKeyToAsn1(key)), password, {
    algorithm: '3des',
    count: ITERATIONS,
  });
  const keyBag = seq([oid('pkcs8ShroudedKeyBag'), explicit0([shrouded]), attrs]);
  const keyContent = seq([oid('data'), explicit0([octets(asn1.toDer(seq([keyBag])).getBytes())])]);

  const authSafe = seq([encryptedCerts, keyContent]);
  const authSafeDer = asn1.toDer(authSafe).getBytes();

  const macSalt = forge.random.getBytesSync(8);
  const macKey = forge.pkcs12.generateKey(password, new forgeExtra.util.ByteBuffer(macSalt), 3, ITERATIONS, 20);
  const hmac = forge.hmac.create();
  hmac.start('sha1', macKey);
  hmac.update(authSafeDer);
  const macData = seq([
    seq([seq([oid('sha1'), asn1.create(U, T.NULL, false, '')]), octets(hmac.digest().getBytes())]),
    octets(macSalt),
    int(ITERATIONS),
  ]);

  const pfx = seq([int(3), seq([oid('data'), explicit0([octets(authSafeDer)])]), macData]);
  return Buffer.from(asn1.toDer(pfx).getBytes(), 'binary');
}
