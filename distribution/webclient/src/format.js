// Dates and times of messages in the browser's locale (Intl.DateTimeFormat): pure functions of a time and a clock,
// tested under node with a fixed clock, locale and time zone.

const formats = new Map();

/** @returns an Intl.DateTimeFormat, made once per locale and options (making one costs far more than using it) */
function dateFormat(locale, options) {
  const key = JSON.stringify([locale ?? null, options]);
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, options);
    formats.set(key, f);
  }
  return f;
}

/**
 * @param options {timeZone?} undefined: the browser's zone
 * @returns the calendar day of an epoch-ms time in the zone, as "YYYY-MM-DD" (a key to compare days with)
 */
export function dayKey(ms, { timeZone } = {}) {
  const parts = dateFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(new Date(ms));
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part('year')}-${part('month')}-${part('day')}`;
}

/** @returns how many calendar days (in the zone) lie between the day of `ms` and the day of `now` (0 = same day) */
export function daysBefore(ms, now, options = {}) {
  const utc = (key) => Date.UTC(Number(key.slice(0, 4)), Number(key.slice(5, 7)) - 1, Number(key.slice(8, 10)));
  return Math.round((utc(dayKey(now, options)) - utc(dayKey(ms, options))) / 86_400_000);
}

/**
 * The time shown beside a message: the time of day when it is from today, else its date with the time (the year only
 * when it is not this year's), e.g. en-US "2:05 PM" today, "Dec 3, 2:05 PM" earlier, "Dec 3, 2025, 2:05 PM" a year
 * before.
 */
export function messageTime(ms, now, { locale, timeZone } = {}) {
  const time = { hour: 'numeric', minute: '2-digit' };
  const days = daysBefore(ms, now, { timeZone });
  if (days === 0) return dateFormat(locale, { timeZone, ...time }).format(new Date(ms));
  const sameYear = dayKey(ms, { timeZone }).slice(0, 4) === dayKey(now, { timeZone }).slice(0, 4);
  return dateFormat(locale, { timeZone, month: 'short', day: 'numeric',
    ...(sameYear ? {} : { year: 'numeric' }), ...time }).format(new Date(ms));
}

/**
 * The day separator above a conversation's first message of a day: "Today", "Yesterday" (in the locale, from
 * Intl.RelativeTimeFormat), else the full date, e.g. en-US "Wednesday, December 3, 2025".
 */
export function dayLabel(ms, now, { locale, timeZone } = {}) {
  const days = daysBefore(ms, now, { timeZone });
  if (days === 0 || days === 1) {
    const text = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' }).format(-days, 'day');
    return text.charAt(0).toLocaleUpperCase(locale) + text.slice(1);
  }
  return dateFormat(locale, { timeZone, weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' })
    .format(new Date(ms));
}
