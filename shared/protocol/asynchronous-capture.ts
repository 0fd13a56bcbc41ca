import * as v from "valibot";
import {
  identifier,
  jsonObject,
  type PaymentRequest,
  parseWith,
  paymentEntries,
  paymentOf,
  unionMember,
} from "./common.ts";

/** AsynchronousCaptureResultCode: ACKNOWLEDGED, or an immediate decline after which no notification follows. */
export const AsynchronousCaptureResultCode = [
  "ACKNOWLEDGED",
  "ACCOUNT_CLOSED",
  "ACCOUNT_CLOSED_ACCOUNT_TAKEN_OVER",
  "ACCOUNT_ON_HOLD",
  "ACCOUNT_CLOSED_FRAUD",
] as const;
export type AsynchronousCaptureResultCode = (typeof AsynchronousCaptureResultCode)[number];

/** A UPI virtual payment address: handle@psp (NPCI: handle of letters, digits, dot, hyphen, underscore). */
export const VPA_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}@[A-Za-z][A-Za-z0-9]{1,63}$/;

const Schema = jsonObject({
  ...paymentEntries,
  upiDetails: v.nullish(jsonObject({ vpa: v.pipe(v.string(), v.regex(VPA_PATTERN, "is not a UPI VPA")) })),
  tokenizedInstrumentDetails: v.nullish(jsonObject({ googlePaymentToken: identifier })),
});

export type AsyncFopDetails = { kind: "VPA"; vpa: string } | { kind: "TOKEN"; googlePaymentToken: string };

export interface AsynchronousCaptureRequest extends PaymentRequest {
  fop: AsyncFopDetails;
}

export function parseAsynchronousCaptureRequest(body: Record<string, unknown>): AsynchronousCaptureRequest {
  const r = parseWith(Schema, body);
  const member = unionMember(r, ["upiDetails", "tokenizedInstrumentDetails"] as const, "fopDetails");
  return {
    ...paymentOf(r),
    fop:
      member === "upiDetails"
        ? { kind: "VPA", vpa: r.upiDetails!.vpa }
        : { kind: "TOKEN", googlePaymentToken: r.tokenizedInstrumentDetails!.googlePaymentToken },
  };
}
