/**
 * `date.toISOString()`, remembered for the last two Dates formatted. A create stamps its
 * record, its `session_created` event and the event's info with one Date, and its transition
 * to `active` the record, the event and the record again with a second: formatting a Date
 * costs about half a microsecond, and a create formatted eight where two differ. A Date is
 * mutable, so its time is compared too.
 */
let newestDate: Date | undefined;
let newestTime = Number.NaN;
let newestText = "";
let olderDate: Date | undefined;
let olderTime = Number.NaN;
let olderText = "";

export function formatIso(date: Date): string {
  const time = date.getTime();
  if (date === newestDate && time === newestTime) return newestText;
  if (date === olderDate && time === olderTime) return olderText;
  // Throws RangeError for an invalid Date, as before; NaN never equals itself, so it is never kept.
  const text = date.toISOString();
  olderDate = newestDate;
  olderTime = newestTime;
  olderText = newestText;
  newestDate = date;
  newestTime = time;
  newestText = text;
  return text;
}
