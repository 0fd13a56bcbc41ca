/** Money at the edge: int64 micros as a decimal string. Inside: bigint. Never a float. */
export const INT64_MAX = 9_223_372_036_854_775_807n;

const MICROS = /^(0|[1-9][0-9]{0,18})$/;

/** Parses a non-negative int64 micros string; undefined when it is not one. */
export function parseMicros(value: string): bigint | undefined {
  if (!MICROS.test(value)) return undefined;
  const micros = BigInt(value);
  return micros <= INT64_MAX ? micros : undefined;
}

export const formatMicros = (micros: bigint): string => micros.toString();

const ISO_4217 = new Set(Intl.supportedValuesOf("currency"));
/** ISO 4217 alphabetic codes known to this runtime's ICU data. */
export const isIso4217 = (code: string): boolean => /^[A-Z]{3}$/.test(code) && ISO_4217.has(code);
