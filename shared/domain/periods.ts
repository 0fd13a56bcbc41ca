/** Calendar day and month of an instant in the ledger's time zone: the keys of the spend limits. */
export interface Periods {
  day: string;
  month: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

export function periodsAt(nowMs: number, timeZone: string): Periods {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
    formatters.set(timeZone, f);
  }
  const day = f.format(nowMs); // en-CA formats as YYYY-MM-DD
  return { day, month: day.slice(0, 7) };
}
