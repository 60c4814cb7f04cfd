/**
 * Unit: every gematik code signflow knows is classified as the research notes (gemSpec_Kon / gemILF_PS tables) say,
 * and becomes the ApplicationFailure the workflow relies on (retryable or not, type, code in details, staff message).
 */
import { type ApplicationFailure } from '@temporalio/common';
import {
  classifyAnyGematikCode,
  classifyGematikCode,
  classifyHttpStatus,
  GEMATIK_CODES,
  isNeedsPersonFailureType,
  KonnektorError,
  KonnektorFailureType as T,
  toKonnektorApplicationFailure,
  type KonnektorFailureDetails,
  type KonnektorFailureType,
  type KonnektorFaultClass,
} from '../../domain/konnektor-errors';
import { parseSoapFault, toKonnektorError } from '../../activities/konnektor/soap-faults';

/** The expected table, written from the notes' section 5 independently of the implementation. */
const EXPECTED: Record<number, [KonnektorFaultClass, KonnektorFailureType]> = {
  4000: ['recoverable', T.KONNEKTOR_REQUEST_INVALID],
  4001: ['transient', T.KONNEKTOR_INTERNAL_ERROR],
  4002: ['transient', T.KONNEKTOR_UNAVAILABLE],
  4003: ['needs-person', T.KONNEKTOR_REQUEST_INVALID],
  4008: ['recoverable', T.CARD_HANDLE_STALE],
  4018: ['needs-person', T.CARD_SESSION_CONFLICT],
  4019: ['needs-person', T.KONNEKTOR_CONFIGURATION],
  4039: ['transient', T.KONNEKTOR_BUSY],
  4043: ['needs-person', T.PIN_TIMEOUT],
  4047: ['recoverable', T.CARD_HANDLE_STALE],
  4049: ['needs-person', T.PIN_ENTRY_CANCELLED],
  4058: ['needs-person', T.KONNEKTOR_REQUEST_INVALID],
  4060: ['transient', T.KONNEKTOR_BUSY],
  4063: ['needs-person', T.PIN_BLOCKED],
  4065: ['needs-person', T.PIN_NOT_SET],
  4072: ['needs-person', T.KONNEKTOR_REQUEST_INVALID],
  4085: ['needs-person', T.COMFORT_SIGNATURE_NOT_ACTIVE],
  4093: ['transient', T.KONNEKTOR_BUSY],
  4094: ['transient', T.CARD_TIMEOUT],
  4101: ['recoverable', T.CARD_HANDLE_STALE],
  4110: ['needs-person', T.DOCUMENT_FORMAT_UNSUPPORTED],
  4111: ['needs-person', T.KONNEKTOR_REQUEST_INVALID],
  4118: ['needs-person', T.CARD_NOT_SUITABLE],
  4120: ['transient', T.SIGNATURE_CREATION_FAILED],
  4123: ['transient', T.SIGNATURE_CREATION_FAILED],
  4125: ['needs-person', T.KONNEKTOR_CONFIGURATION],
  4126: ['needs-person', T.CARD_NOT_SUITABLE],
  4131: ['recoverable', T.CARD_HANDLE_STALE],
  4146: ['recoverable', T.CARD_HANDLE_STALE],
  4157: ['needs-person', T.KONNEKTOR_CLIENT_AUTH_FAILED],
  4174: ['transient', T.KONNEKTOR_UNAVAILABLE],
  4204: ['needs-person', T.KONNEKTOR_CLIENT_AUTH_FAILED],
  4243: ['warning', T.KONNEKTOR_WARNING],
  4252: ['recoverable', T.JOB_NUMBER_REUSED],
  4263: ['needs-person', T.COMFORT_SIGNATURE_DISABLED],
  4265: ['warning', T.KONNEKTOR_WARNING],
  4266: ['warning', T.KONNEKTOR_WARNING],
  4267: ['transient', T.KONNEKTOR_INTERNAL_ERROR],
  4268: ['transient', T.KONNEKTOR_INTERNAL_ERROR],
  4269: ['transient', T.KONNEKTOR_INTERNAL_ERROR],
  4270: ['recoverable', T.USER_ID_REUSED],
  4271: ['needs-person', T.COMFORT_SIGNATURE_EXPIRED],
  4272: ['needs-person', T.KONNEKTOR_REQUEST_INVALID],
  4274: ['needs-person', T.CARD_NOT_SUITABLE],
  4275: ['needs-person', T.PIN_BLOCKED],
  4276: ['needs-person', T.PIN_WRONG],
  4278: ['needs-person', T.COMFORT_SESSION_LIMIT],
  4279: ['needs-person', T.KONNEKTOR_REQUEST_INVALID],
  4280: ['needs-person', T.DOCUMENT_TOO_LARGE],
  4283: ['needs-person', T.DOCUMENT_TOO_LARGE],
};
for (const code of [4004, 4005, 4006, 4007, 4009, 4010, 4011, 4012, 4013, 4014, 4015, 4016, 4020, 4021, 4053, 4092]) {
  EXPECTED[code] = ['needs-person', T.KONNEKTOR_CONFIGURATION];
}
for (const code of [4028, 4040, 4044, 4221, 4222]) EXPECTED[code] = ['transient', T.CARD_TERMINAL_UNAVAILABLE];
for (const code of [4112, 4124, 4208, 4262]) EXPECTED[code] = ['needs-person', T.DOCUMENT_REJECTED];
for (const code of [4197, 4261, 4264, 4273]) EXPECTED[code] = ['warning', T.KONNEKTOR_WARNING];

function details(f: ApplicationFailure): KonnektorFailureDetails {
  return f.details?.[0] as KonnektorFailureDetails;
}

describe('gematik error classification', () => {
  test('the expected table and the implementation cover the same codes', () => {
    expect(Object.keys(EXPECTED).map(Number).sort()).toEqual([...GEMATIK_CODES].sort());
  });

  test.each([...GEMATIK_CODES])('code %i is classified as specified', (code) => {
    const c = classifyGematikCode(code);
    const [faultClass, failureType] = EXPECTED[code]!;
    expect([c.faultClass, c.failureType]).toEqual([faultClass, failureType]);
    expect(c.konnektorText.length).toBeGreaterThan(3);
  });

  test.each([...GEMATIK_CODES].filter((c) => EXPECTED[c]![0] !== 'warning'))(
    'code %i becomes the ApplicationFailure the workflow expects on the first attempt',
    (code) => {
      const [faultClass, failureType] = EXPECTED[code]!;
      const f = toKonnektorApplicationFailure(KonnektorError.fromGematik(code, { operation: 'SignDocument' }), 1);
      const d = details(f);
      expect(d.gematikCode).toBe(code);
      expect(d.operation).toBe('SignDocument');
      expect(d.staffAction.length).toBeGreaterThan(10);
      if (faultClass === 'transient') {
        expect(f.nonRetryable).toBe(false);
        expect(f.type).toBe(failureType);
      } else if (code === 4252) {
        // New job numbers did not help: retried later like an internal error.
        expect(f.nonRetryable).toBe(false);
        expect(f.type).toBe('KONNEKTOR_INTERNAL_ERROR');
      } else {
        // Needs a person, or a repair the client already tried (recoverable reaching the activity boundary).
        expect(f.nonRetryable).toBe(true);
        expect(isNeedsPersonFailureType(f.type)).toBe(true);
        expect(f.message).toContain(String(code));
        expect(f.message).toContain(d.staffAction);
      }
    }
  );

  test('the named needs-a-person causes', () => {
    const type = (code: number) => toKonnektorApplicationFailure(KonnektorError.fromGematik(code, {}), 1).type;
    expect(type(4271)).toBe('COMFORT_SIGNATURE_EXPIRED');
    expect(type(4085)).toBe('COMFORT_SIGNATURE_NOT_ACTIVE');
    expect(type(4063)).toBe('PIN_BLOCKED');
    expect(type(4275)).toBe('PIN_BLOCKED');
    expect(type(4008)).toBe('CARD_MISSING');
  });

  test('T1 codes are retried, then escalate to a needs-a-person type on attempt 3', () => {
    const err = KonnektorError.fromGematik(4123, { operation: 'SignDocument' });
    expect(toKonnektorApplicationFailure(err, 1).nonRetryable).toBe(false);
    expect(toKonnektorApplicationFailure(err, 2).nonRetryable).toBe(false);
    const third = toKonnektorApplicationFailure(err, 3);
    expect(third.nonRetryable).toBe(true);
    expect(third.type).toBe('CERTIFICATE_INVALID');
    expect(details(third).escalatedFrom).toBe('SIGNATURE_CREATION_FAILED');
    // Always-transient codes never escalate.
    expect(toKonnektorApplicationFailure(KonnektorError.fromGematik(4060, {}), 50).nonRetryable).toBe(false);
  });

  test('an unknown gematik code needs a person and is never retried', () => {
    expect(classifyAnyGematikCode(4999).failureType).toBe('KONNEKTOR_UNKNOWN_ERROR');
    const f = toKonnektorApplicationFailure(KonnektorError.fromGematik(4999, {}), 1);
    expect(f.nonRetryable).toBe(true);
    expect(f.type).toBe('KONNEKTOR_UNKNOWN_ERROR');
  });

  test('HTTP statuses without gematik detail', () => {
    expect(classifyHttpStatus(503)).toMatchObject({ faultClass: 'transient', failureType: 'KONNEKTOR_UNAVAILABLE' });
    expect(classifyHttpStatus(429)).toMatchObject({ faultClass: 'transient' });
    expect(classifyHttpStatus(500)).toMatchObject({ faultClass: 'transient', maxAttempts: 3 });
    expect(classifyHttpStatus(401)).toMatchObject({
      faultClass: 'needs-person',
      failureType: 'KONNEKTOR_CLIENT_AUTH_FAILED',
    });
    expect(classifyHttpStatus(404)).toMatchObject({
      faultClass: 'needs-person',
      failureType: 'KONNEKTOR_CONFIGURATION',
    });
    expect(classifyHttpStatus(400)).toMatchObject({
      faultClass: 'needs-person',
      failureType: 'KONNEKTOR_REQUEST_INVALID',
    });
  });
});

describe('SOAP fault parsing', () => {
  const fault = (traces: string) =>
    `<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><S:Fault>` +
    `<faultcode>S:Server</faultcode><faultstring>Fehler</faultstring><detail>` +
    `<ns4:Error xmlns:ns4="http://ws.gematik.de/tel/error/v2.0"><ns4:MessageID>1</ns4:MessageID><ns4:Timestamp>2024-01-01T00:00:00Z</ns4:Timestamp>` +
    traces +
    `</ns4:Error></detail></S:Fault></S:Body></S:Envelope>`;
  const trace = (code: number, text: string) =>
    `<ns4:Trace><ns4:EventID>e</ns4:EventID><ns4:Instance>i</ns4:Instance><ns4:LogReference>l</ns4:LogReference><ns4:CompType>KON</ns4:CompType>` +
    `<ns4:Code>${code}</ns4:Code><ns4:Severity>Error</ns4:Severity><ns4:ErrorType>Technical</ns4:ErrorType><ns4:ErrorText>${text}</ns4:ErrorText></ns4:Trace>`;

  test('the LAST trace carries the gematik code (vendor traces before it)', () => {
    const parsed = parseSoapFault(fault(trace(9001, 'vendor') + trace(4271, 'abgebrochen')));
    expect(parsed?.traces.map((t) => t.code)).toEqual([9001, 4271]);
    const err = toKonnektorError(
      { response: { status: 500 }, body: fault(trace(9001, 'vendor') + trace(4271, 'abgebrochen')) },
      'SignDocument'
    );
    expect(err.failureType).toBe('COMFORT_SIGNATURE_EXPIRED');
    expect(err.gematikCode).toBe(4271);
    expect(err.details.konnektorText).toBe('abgebrochen');
  });

  test('a single trace (object, not array) is read too', () => {
    expect(parseSoapFault(fault(trace(4060, 'belegt')))?.traces[0]?.code).toBe(4060);
  });

  test('a fault that is not a gematik error is classified by HTTP status and kept whole', () => {
    const body =
      '<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><S:Fault><faultcode>S:Server</faultcode>' +
      '<faultstring>Vendor exploded</faultstring><detail><vendor>stack</vendor></detail></S:Fault></S:Body></S:Envelope>';
    const err = toKonnektorError({ response: { status: 503 }, body }, 'GetCards');
    expect(err.failureType).toBe('KONNEKTOR_UNAVAILABLE');
    expect(err.retryable).toBe(true);
    expect(err.details.fault).toEqual({ httpStatus: 503, faultcode: 'S:Server', faultstring: 'Vendor exploded', body });
    const f = toKonnektorApplicationFailure(err, 1);
    expect(details(f).fault?.body).toBe(body);
  });

  test('network errors are transient, TLS alerts about our certificate need an admin', () => {
    expect(
      toKonnektorError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'GetCards').retryable
    ).toBe(true);
    const tls = toKonnektorError(
      Object.assign(new Error('tlsv1 alert unknown ca'), { code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' }),
      'GetCards'
    );
    expect(tls.failureType).toBe('KONNEKTOR_CLIENT_AUTH_FAILED');
    expect(tls.retryable).toBe(false);
  });
});
